using System.Globalization;

namespace GpuNet.Nn;

/// <summary>
/// Base class of optimizers (PyTorch's <c>torch.optim.Optimizer</c>, one parameter group).
/// <see cref="Step"/> updates every parameter that has a gradient, in place and without
/// recording a graph; temporaries are freed before it returns, and state tensors (momenta,
/// running averages) live outside every scope until <see cref="Dispose"/>.
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly Parameter[] _parameters;
    private readonly Dictionary<string, Tensor>[] _state;
    private readonly long[] _steps;
    private double _learningRate;

    /// <summary>Creates the optimizer over <paramref name="parameters"/> (duplicates are ignored).</summary>
    protected Optimizer(IEnumerable<Parameter> parameters, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters.Distinct(ReferenceEqualityComparer.Instance).Cast<Parameter>().ToArray();
        if (_parameters.Length == 0) throw new ArgumentException($"{GetType().Name}: got an empty parameter list.");
        _state = _parameters.Select(_ => new Dictionary<string, Tensor>()).ToArray();
        _steps = new long[_parameters.Length];
        LearningRate = learningRate;
        InitialLearningRate = learningRate;
    }

    /// <summary>The parameters updated, in order.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>The learning rate used by the next <see cref="Step"/> (schedulers set it).</summary>
    public double LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0) || double.IsInfinity(value))
                throw new ArgumentOutOfRangeException(nameof(value), $"{GetType().Name}: the learning rate must be a finite non-negative number; got {value}.");
            _learningRate = value;
        }
    }

    /// <summary>The learning rate given at construction (the base of LR schedules).</summary>
    public double InitialLearningRate { get; }

    /// <summary>Number of <see cref="Step"/> calls so far.</summary>
    public long StepCount { get; private set; }

    /// <summary>Drops every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters) p.ZeroGrad();
    }

    /// <summary>Updates every parameter that has a gradient (parameters without one are skipped, as in PyTorch).</summary>
    public void Step()
    {
        using var scope = Tensor.NewScope();
        using var noGrad = Autograd.NoGrad();
        StepCount++;
        for (int i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i];
            if (p.Grad is not { } grad || !p.RequiresGrad) continue;
            if (!grad.Shape.SequenceEqual(p.Shape))
                throw new InvalidOperationException($"{GetType().Name}: parameter {i} {Parameter.Format(p.Shape)} has a gradient of shape {Parameter.Format(grad.Shape)}.");
            _steps[i]++;
            Update(i, p.Data, grad, _steps[i]);
        }
    }

    /// <summary>Applies one update to parameter <paramref name="index"/> (<paramref name="step"/> counts from 1). Runs under NoGrad inside a scope.</summary>
    protected abstract void Update(int index, Tensor param, Tensor grad, long step);

    /// <summary>The state tensor <paramref name="name"/> of parameter <paramref name="index"/>, created (outside every scope) by <paramref name="create"/> on first use.</summary>
    protected Tensor State(int index, string name, Func<Tensor> create)
    {
        if (_state[index].TryGetValue(name, out var t)) return t;
        using (TensorScope.Suspend()) t = create();
        t.DetachFromScope();
        _state[index][name] = t;
        return t;
    }

    /// <summary>True when parameter <paramref name="index"/> has state <paramref name="name"/>.</summary>
    protected bool HasState(int index, string name) => _state[index].ContainsKey(name);

    /// <summary>
    /// Everything needed to resume: <c>lr</c> and <c>step</c> (float64 scalars), and per parameter i its
    /// <c>state.i.step</c> and state tensors (<c>state.i.exp_avg</c>, …). Tensors are the optimizer's own (do not dispose them);
    /// the scalars are new tensors in the current scope.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var device = _parameters[0].Device;
        var dict = new Dictionary<string, Tensor>
        {
            ["lr"] = Tensor.Scalar(LearningRate, DType.Float64, device),
            ["step"] = Tensor.Scalar(StepCount, DType.Float64, device),
        };
        for (int i = 0; i < _parameters.Length; i++)
        {
            dict[Key(i, "step")] = Tensor.Scalar(_steps[i], DType.Float64, device);
            foreach (var (name, t) in _state[i]) dict[Key(i, name)] = t;
        }
        return dict;
    }

    /// <summary>Restores what <see cref="StateDict"/> returned (from an optimizer of the same kind over parameters of the same shapes).</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        string kind = GetType().Name;
        var errors = new List<string>();
        foreach (var key in stateDict.Keys)
        {
            if (key is "lr" or "step") continue;
            var parts = key.Split('.');
            if (parts.Length != 3 || parts[0] != "state" || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int i) || i >= _parameters.Length)
                errors.Add($"unexpected key '{key}'");
            else if (parts[2] != "step" && !stateDict[key].Shape.SequenceEqual(_parameters[i].Shape))
                errors.Add($"'{key}' has shape {Parameter.Format(stateDict[key].Shape)} but parameter {i} is {Parameter.Format(_parameters[i].Shape)}");
        }
        if (!stateDict.ContainsKey("lr")) errors.Add("missing key 'lr'");
        if (!stateDict.ContainsKey("step")) errors.Add("missing key 'step'");
        if (errors.Count > 0) throw new InvalidOperationException($"{kind}.LoadStateDict: {string.Join("; ", errors)}.");

        ClearState();
        LearningRate = Scalar(stateDict["lr"]);
        StepCount = (long)Scalar(stateDict["step"]);
        for (int i = 0; i < _parameters.Length; i++)
        {
            _steps[i] = stateDict.TryGetValue(Key(i, "step"), out var s) ? (long)Scalar(s) : 0;
            string prefix = $"state.{i}.";
            foreach (var (key, src) in stateDict)
            {
                if (!key.StartsWith(prefix, StringComparison.Ordinal) || key == Key(i, "step")) continue;
                var p = _parameters[i];
                Tensor copy;
                using (TensorScope.Suspend())
                using (Autograd.NoGrad())
                {
                    copy = Tensor.Zeros(p.Shape, p.DType, p.Device);
                    using var onDevice = src.Device == p.Device ? null : src.To(p.Device);
                    copy.CopyFrom(onDevice ?? src);
                }
                _state[i][key[prefix.Length..]] = copy;
            }
        }
    }

    private static double Scalar(Tensor t)
    {
        if (t.NumElements != 1) throw new InvalidOperationException($"Optimizer.LoadStateDict: expected a one-element tensor; got {Parameter.Format(t.Shape)}.");
        if (t.DType == DType.Float64) return t.Item<double>();
        using var d = t.To(DType.Float64);
        return d.Item<double>();
    }

    private static string Key(int index, string name) => $"state.{index}.{name}";

    /// <summary>Saves <see cref="StateDict"/> to a safetensors file (atomically), with the optimizer's kind in the metadata.</summary>
    public void Save(string path)
    {
        using var scope = Tensor.NewScope();
        Safetensors.Save(path, StateDict(), new Dictionary<string, string> { ["optimizer"] = GetType().Name });
    }

    /// <summary>Loads state saved by <see cref="Save"/>; the file must come from the same kind of optimizer.</summary>
    public void Load(string path)
    {
        var meta = Safetensors.ReadMetadata(path);
        if (meta.TryGetValue("optimizer", out var kind) && kind != GetType().Name)
            throw new InvalidOperationException($"{path}: holds {kind} state, which a {GetType().Name} cannot load.");
        using var scope = Tensor.NewScope();
        LoadStateDict(Safetensors.Load(path, _parameters[0].Device));
    }

    private void ClearState()
    {
        foreach (var dict in _state)
        {
            foreach (var t in dict.Values) t.Dispose();
            dict.Clear();
        }
        Array.Clear(_steps);
    }

    /// <summary>Frees the optimizer's state tensors (not the parameters).</summary>
    public void Dispose()
    {
        ClearState();
        GC.SuppressFinalize(this);
    }

    /// <summary>Throws unless <paramref name="value"/> is finite and ≥ 0.</summary>
    protected static double NonNegative(string optimizer, string name, double value) =>
        value >= 0 && !double.IsInfinity(value) ? value
        : throw new ArgumentOutOfRangeException(name, $"{optimizer}: {name} must be a finite non-negative number; got {value}.");

    /// <summary>Throws unless <paramref name="value"/> is in [0, 1).</summary>
    protected static double UnitInterval(string optimizer, string name, double value) =>
        value >= 0 && value < 1 ? value
        : throw new ArgumentOutOfRangeException(name, $"{optimizer}: {name} must be in [0, 1); got {value}.");
}
