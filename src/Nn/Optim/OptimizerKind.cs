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
}

/// <summary>The learning-rate schedules <see cref="ClassifierTraining"/> can build.</summary>
public enum ScheduleKind
{
    /// <summary>A constant learning rate.</summary>
    None,
    /// <summary>Cosine annealing to zero over the run (<see cref="CosineAnnealingLR"/>).</summary>
    Cosine,
    /// <summary>Halved every quarter of the run (<see cref="StepLR"/>).</summary>
    Step,
}
