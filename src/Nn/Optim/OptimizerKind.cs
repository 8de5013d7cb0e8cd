namespace GpuNet.Nn;

/// <summary>The optimizers <see cref="ClassifierTraining"/> can build.</summary>
public enum OptimizerKind
{
    /// <summary>SGD with momentum (<see cref="SGD"/>).</summary>
    Sgd,
    /// <summary><see cref="Nn.Adam"/>.</summary>
    Adam,
    /// <summary><see cref="Nn.AdamW"/>: Adam with decoupled weight decay.</summary>
    AdamW,
    /// <summary><see cref="Nn.RMSProp"/>.</summary>
    RmsProp,
    /// <summary><see cref="Nn.Adagrad"/>.</summary>
    Adagrad,
    /// <summary><see cref="Nn.NAdam"/>: Adam with Nesterov momentum.</summary>
    NAdam,
    /// <summary><see cref="Nn.RAdam"/>: rectified Adam.</summary>
    RAdam,
}

/// <summary>The learning-rate schedules <see cref="ClassifierTraining"/> can build (over the epochs after the warm-up, if any).</summary>
public enum ScheduleKind
{
    /// <summary>A constant learning rate.</summary>
    None,
    /// <summary>Cosine annealing to zero over the run (<see cref="CosineAnnealingLR"/>).</summary>
    Cosine,
    /// <summary>Halved every quarter of the run (<see cref="StepLR"/>).</summary>
    Step,
    /// <summary>Multiplied by the same factor every epoch, reaching 1/100 of the rate at the end of the run (<see cref="ExponentialLR"/>).</summary>
    Exponential,
    /// <summary>Divided by 10 at half and at three quarters of the run (<see cref="MultiStepLR"/>).</summary>
    MultiStep,
    /// <summary>The 1cycle policy over the run's batches with the rate as its peak (<see cref="OneCycleLR"/>, PyTorch's defaults, stepped per batch); it warms up itself.</summary>
    OneCycle,
}
