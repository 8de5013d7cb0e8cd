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
                throw new InvalidOperationException($"{GetType().Name}: parameter {i} {Parameter.Format(p.ShapeArray)} has a gradient of shape {Parameter.Format(grad.ShapeArray)}.");
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

    /// <summary>
    /// Restores what <see cref="StateDict"/> returned (from an optimizer of the same kind over parameters of the same shapes).
    /// Everything is checked before anything changes: on an error (naming each bad key) the optimizer keeps its state.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        var (lr, stepCount, steps) = CheckStateDict(stateDict);
        // Copies are made before the old state is dropped, so a failure while copying changes nothing either.
        var fresh = _parameters.Select(_ => new Dictionary<string, Tensor>()).ToArray();
        try
        {
            for (int i = 0; i < _parameters.Length; i++)
            {
                string prefix = $"state.{i}.";
                foreach (var (key, src) in stateDict)
                {
                    if (!key.StartsWith(prefix, StringComparison.Ordinal) || key == Key(i, "step")) continue;
                    var p = _parameters[i];
                    Tensor copy;
                    using (TensorScope.Suspend())
                    using (Autograd.NoGrad())
                    {
                        copy = Tensor.Zeros(p.ShapeArray, p.DType, p.Device);
                        fresh[i][key[prefix.Length..]] = copy;
                        using var onDevice = src.Device == p.Device ? null : src.To(p.Device);
                        copy.CopyFrom(onDevice ?? src);
                    }
                }
            }
        }
        catch
        {
            foreach (var t in fresh.SelectMany(d => d.Values)) t.Dispose();
            throw;
        }
        ClearState();
        for (int i = 0; i < _parameters.Length; i++)
            foreach (var (name, t) in fresh[i]) _state[i][name] = t;
        LearningRate = lr;
        StepCount = stepCount;
        Array.Copy(steps, _steps, steps.Length);
    }

    /// <summary>
    /// Checks a state dict against this optimizer without changing anything: every key known, every tensor of its
    /// parameter's shape and floating, every counter a one-element finite non-negative whole number. Returns the
    /// learning rate, the step count and the per-parameter step counts it holds.
    /// </summary>
    internal (double LearningRate, long StepCount, long[] Steps) CheckStateDict(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        string kind = GetType().Name;
        var errors = new List<string>();
        double lr = 0;
        long stepCount = 0;
        var steps = new long[_parameters.Length];
        foreach (var (key, t) in stateDict)
        {
            if (t is null || t.IsDisposed)
            {
                errors.Add($"'{key}' is null or disposed");
                continue;
            }
            if (key == "lr")
            {
                if (ScalarOrError(key, t, errors) is { } v)
                {
                    if (v >= 0 && !double.IsInfinity(v)) lr = v;
                    else errors.Add($"'lr' is {v}; expected a finite non-negative number");
                }
                continue;
            }
            if (key == "step")
            {
                if (CountOrError(key, t, errors) is { } c) stepCount = c;
                continue;
            }
            var parts = key.Split('.');
            if (parts.Length != 3 || parts[0] != "state" || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int i) || i >= _parameters.Length)
                errors.Add($"unexpected key '{key}'");
            else if (parts[2] == "step")
            {
                if (CountOrError(key, t, errors) is { } c) steps[i] = c;
            }
            else if (!t.Shape.SequenceEqual(_parameters[i].Shape))
                errors.Add($"'{key}' has shape {Parameter.Format(t.ShapeArray)} but parameter {i} is {Parameter.Format(_parameters[i].ShapeArray)}");
            else if (!t.DType.IsFloating())
                errors.Add($"'{key}' is {t.DType.Name()}; expected a floating-point tensor");
        }
        if (!stateDict.ContainsKey("lr")) errors.Add("missing key 'lr'");
        if (!stateDict.ContainsKey("step")) errors.Add("missing key 'step'");
        if (errors.Count > 0) throw new InvalidOperationException($"{kind}.LoadStateDict: {string.Join("; ", errors)}.");
        return (lr, stepCount, steps);
    }

    private static double? ScalarOrError(string key, Tensor t, List<string> errors)
    {
        if (t.NumElements != 1)
        {
            errors.Add($"'{key}' has shape {Parameter.Format(t.ShapeArray)}; expected a one-element tensor");
            return null;
        }
        if (t.DType == DType.Float64) return t.Item<double>();
        using var d = t.To(DType.Float64);
        return d.Item<double>();
    }

    private static long? CountOrError(string key, Tensor t, List<string> errors)
    {
        if (ScalarOrError(key, t, errors) is not { } v) return null;
        if (v >= 0 && v <= long.MaxValue / 2 && v == Math.Floor(v)) return (long)v;
        errors.Add($"'{key}' is {v}; expected a whole number of steps");
        return null;
    }

    private static string Key(int index, string name) => $"state.{index}.{name}";

    /// <summary>Saves <see cref="StateDict"/> to a safetensors file (atomically), with the optimizer's kind in the metadata.</summary>
    public void Save(string path)
    {
        using var scope = Tensor.NewScope();
        Safetensors.Save(path, StateDict(), new Dictionary<string, string> { ["optimizer"] = GetType().Name });
    }

    /// <summary>
    /// Loads state saved by <see cref="Save"/>; the file must come from the same kind of optimizer. A file that does not
    /// fit is an <see cref="InvalidOperationException"/> naming the file and the keys, and leaves the optimizer as it was.
    /// </summary>
    public void Load(string path)
    {
        var meta = Safetensors.ReadMetadata(path);
        if (meta.TryGetValue("optimizer", out var kind) && kind != GetType().Name)
            throw new InvalidOperationException($"{path}: holds {kind} state, which a {GetType().Name} cannot load.");
        using var scope = Tensor.NewScope();
        var state = Safetensors.Load(path, _parameters[0].Device);
        try
        {
            LoadStateDict(state);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"{path}: {e.Message}", e);
        }
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
