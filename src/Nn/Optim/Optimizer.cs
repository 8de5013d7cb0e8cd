using System.Globalization;

namespace GpuNet.Nn;

/// <summary>
/// A set of parameters that share hyper-parameters (PyTorch's parameter group, one entry of <c>param_groups</c>):
/// its own learning rate (which schedules set per group) and, where given, its own weight decay, momentum and betas
/// in place of the optimizer's. Add it with <see cref="Optimizer.AddParamGroup"/>, e.g. biases without weight decay:
/// <c>opt.AddParamGroup(new ParamGroup(biases, weightDecay: 0))</c>.
/// </summary>
public sealed class ParamGroup
{
    private double? _learningRate;
    private double? _weightDecay, _momentum, _beta1, _beta2;

    /// <summary>Creates the group; a null setting takes the optimizer's.</summary>
    /// <param name="parameters">Its parameters (duplicates are ignored).</param>
    /// <param name="lr">Learning rate (null: the optimizer's at the time the group is added).</param>
    /// <param name="weightDecay">Weight decay (null: the optimizer's).</param>
    /// <param name="momentum">Momentum of SGD and RMSProp (null: the optimizer's).</param>
    /// <param name="beta1">β₁ of the Adam family (null: the optimizer's).</param>
    /// <param name="beta2">β₂ of the Adam family (null: the optimizer's).</param>
    public ParamGroup(IEnumerable<Parameter> parameters, double? lr = null, double? weightDecay = null, double? momentum = null, double? beta1 = null, double? beta2 = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters.Distinct(ReferenceEqualityComparer.Instance).Cast<Parameter>().ToArray();
        if (Parameters.Count == 0) throw new ArgumentException("ParamGroup: got an empty parameter list.");
        if (lr is { } l) LearningRate = l;
        WeightDecay = weightDecay;
        Momentum = momentum;
        Beta1 = beta1;
        Beta2 = beta2;
    }

    /// <summary>The parameters, in order.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>The group's learning rate for the next step (schedules set it).</summary>
    public double LearningRate
    {
        get => _learningRate ?? throw new InvalidOperationException("ParamGroup: the learning rate is unset until the group is added to an optimizer.");
        set => _learningRate = Check(value, v => v >= 0 && !double.IsInfinity(v), "the learning rate", "a finite non-negative number");
    }

    /// <summary>The learning rate when the group was added (the base of LR schedules).</summary>
    public double InitialLearningRate { get; private set; }

    /// <summary>Weight decay of this group; null: the optimizer's.</summary>
    public double? WeightDecay
    {
        get => _weightDecay;
        set => _weightDecay = value is { } v ? Check(v, x => x >= 0 && !double.IsInfinity(x), "weightDecay", "a finite non-negative number") : null;
    }

    /// <summary>Momentum of this group (SGD, RMSProp); null: the optimizer's. Cycled by <see cref="OneCycleLR"/>.</summary>
    public double? Momentum
    {
        get => _momentum;
        set => _momentum = value is { } v ? Check(v, x => x >= 0 && !double.IsInfinity(x), "momentum", "a finite non-negative number") : null;
    }

    /// <summary>β₁ of this group (Adam family); null: the optimizer's. Cycled by <see cref="OneCycleLR"/>.</summary>
    public double? Beta1
    {
        get => _beta1;
        set => _beta1 = value is { } v ? Check(v, x => x >= 0 && x < 1, "beta1", "a number in [0, 1)") : null;
    }

    /// <summary>β₂ of this group (Adam family); null: the optimizer's.</summary>
    public double? Beta2
    {
        get => _beta2;
        set => _beta2 = value is { } v ? Check(v, x => x >= 0 && x < 1, "beta2", "a number in [0, 1)") : null;
    }

    internal Optimizer? Owner { get; private set; }

    internal void Attach(Optimizer owner, double defaultLearningRate)
    {
        _learningRate ??= defaultLearningRate;
        InitialLearningRate = LearningRate;
        Owner = owner;
    }

    private static double Check(double value, Func<double, bool> valid, string name, string expected) =>
        valid(value) ? value : throw new ArgumentOutOfRangeException(name, $"ParamGroup: {name} must be {expected}; got {value}.");
}

/// <summary>
/// Base class of optimizers (PyTorch's <c>torch.optim.Optimizer</c>). Parameters come in groups
/// (<see cref="ParamGroups"/>): the constructor's parameters are group 0, <see cref="AddParamGroup"/> adds more,
/// each with its own learning rate and optional hyper-parameters. <see cref="Step"/> updates every parameter that
/// has a gradient, in place and without recording a graph; temporaries are freed before it returns, and state
/// tensors (momenta, running averages) live outside every scope until <see cref="Dispose"/>.
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly List<ParamGroup> _groups = [];
    private readonly List<Parameter> _parameters = [];
    private readonly List<int> _groupOf = [];
    private readonly List<Dictionary<string, Tensor>> _state = [];
    private readonly List<long> _steps = [];

    /// <summary>Creates the optimizer over <paramref name="parameters"/> (duplicates are ignored), which form group 0.</summary>
    protected Optimizer(IEnumerable<Parameter> parameters, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var list = parameters.Distinct(ReferenceEqualityComparer.Instance).Cast<Parameter>().ToArray();
        if (list.Length == 0) throw new ArgumentException($"{GetType().Name}: got an empty parameter list.");
        NonNegative(GetType().Name, "lr", learningRate);
        var group = new ParamGroup(list, learningRate);
        group.Attach(this, learningRate);
        Append(group);
    }

    /// <summary>The parameters updated, in order (group by group); the index of a parameter here is its index in the state dict.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>The parameter groups, group 0 first (PyTorch's <c>param_groups</c>).</summary>
    public IReadOnlyList<ParamGroup> ParamGroups => _groups;

    /// <summary>
    /// Adds a parameter group (PyTorch's <c>add_param_group</c>): its learning rate defaults to group 0's current one,
    /// its other unset settings to the optimizer's. Its parameters must not be in another group already.
    /// </summary>
    public void AddParamGroup(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        string kind = GetType().Name;
        if (group.Owner is not null) throw new ArgumentException($"{kind}.AddParamGroup: the group already belongs to an optimizer.");
        var mine = new HashSet<Parameter>(_parameters, ReferenceEqualityComparer.Instance);
        var shared = group.Parameters.Select((p, i) => (p, i)).Where(x => mine.Contains(x.p)).Select(x => x.i).ToList();
        if (shared.Count > 0)
            throw new ArgumentException($"{kind}.AddParamGroup: parameters {string.Join(", ", shared)} of the new group are already in another group; a parameter can be in one group only.");
        CheckParamGroup(group);
        group.Attach(this, _groups[0].LearningRate);
        Append(group);
    }

    private void Append(ParamGroup group)
    {
        _groups.Add(group);
        foreach (var p in group.Parameters)
        {
            _parameters.Add(p);
            _groupOf.Add(_groups.Count - 1);
            _state.Add([]);
            _steps.Add(0);
        }
    }

    /// <summary>Checks a group's settings against this optimizer before it is added (throws <see cref="ArgumentException"/>); the default accepts every group.</summary>
    protected virtual void CheckParamGroup(ParamGroup group) { }

    /// <summary>The group parameter <paramref name="index"/> belongs to.</summary>
    protected ParamGroup GroupOf(int index) => _groups[_groupOf[index]];

    /// <summary>
    /// The learning rate of group 0, which schedules built for a one-group optimizer set; setting it sets every group's
    /// (a schedule over several groups sets each one's through <see cref="ParamGroups"/>).
    /// </summary>
    public double LearningRate
    {
        get => _groups[0].LearningRate;
        set
        {
            if (!(value >= 0) || double.IsInfinity(value))
                throw new ArgumentOutOfRangeException(nameof(value), $"{GetType().Name}: the learning rate must be a finite non-negative number; got {value}.");
            foreach (var g in _groups) g.LearningRate = value;
        }
    }

    /// <summary>Group 0's learning rate given at construction (the base of LR schedules).</summary>
    public double InitialLearningRate => _groups[0].InitialLearningRate;

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
        for (int i = 0; i < _parameters.Count; i++)
        {
            var p = _parameters[i];
            if (p.Grad is not { } grad || !p.RequiresGrad) continue;
            if (!grad.Shape.SequenceEqual(p.Shape))
                throw new InvalidOperationException($"{GetType().Name}: parameter {i} {Parameter.Format(p.ShapeArray)} has a gradient of shape {Parameter.Format(grad.ShapeArray)}.");
            _steps[i]++;
            Update(i, p.Data, grad, _steps[i]);
        }
    }

    /// <summary>
    /// Applies one update to parameter <paramref name="index"/> (<paramref name="step"/> counts from 1) with the settings
    /// of its group (<see cref="GroupOf"/>). Runs under NoGrad inside a scope.
    /// </summary>
    protected abstract void Update(int index, Tensor param, Tensor grad, long step);

    /// <summary>
    /// The names of the state tensors parameter <paramref name="index"/> has once it has stepped (with its group's
    /// settings), which <see cref="LoadStateDict"/> requires; null (the default) checks only shapes and dtypes.
    /// </summary>
    protected virtual IReadOnlyCollection<string>? StateNames(int index) => null;

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
    /// Everything needed to resume: <c>lr</c> (group 0's learning rate) and <c>step</c> (float64 scalars), <c>group.g.lr</c>
    /// for every further group g, and per parameter i its <c>state.i.step</c> and state tensors (<c>state.i.exp_avg</c>,
    /// <c>state.i.max_exp_avg_sq</c>, <c>state.i.sum</c>, …). Tensors are the optimizer's own (do not dispose them);
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
        for (int g = 1; g < _groups.Count; g++) dict[$"group.{g}.lr"] = Tensor.Scalar(_groups[g].LearningRate, DType.Float64, device);
        for (int i = 0; i < _parameters.Count; i++)
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
        var (lrs, stepCount, steps) = CheckStateDict(stateDict);
        // Copies are made before the old state is dropped, so a failure while copying changes nothing either.
        var fresh = _parameters.Select(_ => new Dictionary<string, Tensor>()).ToArray();
        try
        {
            for (int i = 0; i < _parameters.Count; i++)
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
        for (int i = 0; i < _parameters.Count; i++)
            foreach (var (name, t) in fresh[i]) _state[i][name] = t;
        for (int g = 0; g < _groups.Count; g++) _groups[g].LearningRate = lrs[g];
        StepCount = stepCount;
        for (int i = 0; i < steps.Length; i++) _steps[i] = steps[i];
        StateLoaded();
    }

    /// <summary>Drops whatever an optimizer keeps between steps outside its state dict, after a load.</summary>
    private protected virtual void StateLoaded() { }

    /// <summary>
    /// Checks a state dict against this optimizer without changing anything: every key known, every tensor of its
    /// parameter's shape and floating, every counter a one-element finite non-negative whole number, and each stepped
    /// parameter's state exactly the tensors this optimizer keeps for it (<see cref="StateNames"/>). Returns every group's
    /// learning rate, the step count and the per-parameter step counts it holds.
    /// </summary>
    internal (double[] LearningRates, long StepCount, long[] Steps) CheckStateDict(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        string kind = GetType().Name;
        var errors = new List<string>();
        var lrs = new double[_groups.Count];
        long stepCount = 0;
        var steps = new long[_parameters.Count];
        var names = _parameters.Select(_ => new List<string>()).ToArray();
        foreach (var (key, t) in stateDict)
        {
            if (t is null || t.IsDisposed)
            {
                errors.Add($"'{key}' is null or disposed");
                continue;
            }
            if (key == "lr")
            {
                if (RateOrError(key, t, errors) is { } v) lrs[0] = v;
                continue;
            }
            if (key == "step")
            {
                if (CountOrError(key, t, errors) is { } c) stepCount = c;
                continue;
            }
            var parts = key.Split('.');
            if (parts.Length == 3 && parts[0] == "group" && parts[2] == "lr"
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int g) && g >= 1 && g < _groups.Count)
            {
                if (RateOrError(key, t, errors) is { } v) lrs[g] = v;
                continue;
            }
            if (parts.Length != 3 || parts[0] != "state" || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int i) || i >= _parameters.Count)
                errors.Add($"unexpected key '{key}'");
            else if (parts[2] == "step")
            {
                if (CountOrError(key, t, errors) is { } c) steps[i] = c;
            }
            else
            {
                names[i].Add(parts[2]);
                if (!t.Shape.SequenceEqual(_parameters[i].Shape))
                    errors.Add($"'{key}' has shape {Parameter.Format(t.ShapeArray)} but parameter {i} is {Parameter.Format(_parameters[i].ShapeArray)}");
                else if (!t.DType.IsFloating())
                    errors.Add($"'{key}' is {t.DType.Name()}; expected a floating-point tensor");
            }
        }
        // A state tensor the optimizer does not keep, or one it needs but lacks (say, amsgrad's maximum from a plain Adam's file), is an error, not a silent restart of that average.
        for (int i = 0; i < _parameters.Count; i++)
        {
            if (StateNames(i) is not { } expected) continue;
            IReadOnlyCollection<string> want = steps[i] > 0 ? expected : [];
            foreach (var n in names[i].Except(want)) errors.Add($"unexpected key '{Key(i, n)}' ({kind}{(steps[i] > 0 ? "" : " at step 0")} keeps {(want.Count == 0 ? "no state" : string.Join(", ", want))} for parameter {i})");
            foreach (var n in want.Except(names[i])) errors.Add($"missing key '{Key(i, n)}' (parameter {i} has stepped {steps[i]} times)");
        }
        if (!stateDict.ContainsKey("lr")) errors.Add("missing key 'lr'");
        if (!stateDict.ContainsKey("step")) errors.Add("missing key 'step'");
        for (int g = 1; g < _groups.Count; g++)
            if (!stateDict.ContainsKey($"group.{g}.lr")) errors.Add($"missing key 'group.{g}.lr' (this optimizer has {_groups.Count} parameter groups)");
        if (errors.Count > 0) throw new InvalidOperationException($"{kind}.LoadStateDict: {string.Join("; ", errors)}.");
        return (lrs, stepCount, steps);
    }

    private static double? RateOrError(string key, Tensor t, List<string> errors)
    {
        if (ScalarOrError(key, t, errors) is not { } v) return null;
        if (v >= 0 && !double.IsInfinity(v)) return v;
        errors.Add($"'{key}' is {v}; expected a finite non-negative number");
        return null;
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
        for (int i = 0; i < _steps.Count; i++) _steps[i] = 0;
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
