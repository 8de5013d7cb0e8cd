using System.Text;

namespace GpuNet.Nn;

/// <summary>
/// Base class of every layer and model (PyTorch's <c>nn.Module</c>): a <see cref="Forward"/>
/// function plus registered parameters, buffers and submodules, which give stable dotted names
/// (<c>0.weight</c>, <c>encoder.1.bias</c>) for <see cref="NamedParameters"/>, <see cref="StateDict"/> and checkpoints.
/// </summary>
/// <remarks>
/// Subclasses create their parameters in the constructor with <see cref="RegisterParameter"/>, their
/// non-trained state (BatchNorm's running statistics) with <see cref="RegisterBuffer"/> and their
/// children with <see cref="RegisterModule{T}"/>; registration order is the iteration order.
/// Parameters and buffers live outside every <see cref="TensorScope"/>; <see cref="Dispose"/> frees them.
/// </remarks>
public abstract class Module : IDisposable
{
    private readonly List<(string Name, Parameter Parameter)> _parameters = [];
    private readonly List<(string Name, Module Module)> _children = [];
    private readonly List<(string Name, Tensor Tensor)> _buffers = [];
    private bool _disposed;

    /// <summary>Computes the module's output for <paramref name="input"/>.</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>
    /// True in training mode (the default); false after <see cref="Eval"/> (PyTorch's <c>training</c>). When false
    /// Dropout is the identity and BatchNorm normalizes by its running statistics instead of the batch's.
    /// </summary>
    public bool IsTraining { get; private set; } = true;

    /// <summary>Registers a parameter under <paramref name="name"/> (no dots; unique within this module) and returns it.</summary>
    protected Parameter RegisterParameter(string name, Parameter parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        CheckName(name);
        _parameters.Add((name, parameter));
        return parameter;
    }

    /// <summary>Registers a submodule under <paramref name="name"/> (no dots; unique within this module) and returns it.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        ArgumentNullException.ThrowIfNull(module);
        CheckName(name);
        if (ReferenceEquals(module, this)) throw new ArgumentException($"{GetType().Name}: a module cannot be its own child ('{name}').");
        _children.Add((name, module));
        return module;
    }

    /// <summary>
    /// Registers a buffer under <paramref name="name"/> (no dots; unique within this module) and returns it: state that
    /// is saved and loaded with the parameters (<see cref="StateDict"/>, checkpoints) and moved by <see cref="To"/>, but
    /// not trained (no gradient, not in <see cref="Parameters"/>, so no optimizer sees it), as PyTorch's
    /// <c>register_buffer</c>. The module takes ownership of the tensor; read it back with <see cref="GetBuffer"/>,
    /// since <see cref="To"/> replaces it.
    /// </summary>
    protected Tensor RegisterBuffer(string name, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.RequiresGrad)
            throw new ArgumentException($"{GetType().Name}: buffer '{name}' requires grad; a buffer is not trained (register a parameter instead, or Detach() it).", nameof(tensor));
        CheckName(name);
        _buffers.Add((name, tensor.DetachFromScope()));
        return tensor;
    }

    /// <summary>The buffer registered as <paramref name="name"/> on this module (its current tensor).</summary>
    protected Tensor GetBuffer(string name)
    {
        foreach (var (n, t) in _buffers)
            if (n == name) return t;
        throw new KeyNotFoundException($"{GetType().Name}: no buffer named '{name}'.");
    }

    /// <summary>Every buffer of this module and (when <paramref name="recurse"/>) its descendants, in registration order.</summary>
    public IEnumerable<Tensor> Buffers(bool recurse = true) => NamedBuffers(recurse: recurse).Select(b => b.Buffer);

    /// <summary>Buffers with their dotted names (<c>layers.1.running_mean</c>), in registration order. The tensors are the buffers themselves: do not dispose them.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "", bool recurse = true)
    {
        foreach (var (path, module) in recurse ? NamedModules(prefix) : [(prefix, this)])
            foreach (var (name, b) in module._buffers)
                yield return (Join(path, name), b);
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"{GetType().Name}: '{name}' is not a valid name for a parameter, buffer or submodule (it must be non-empty and contain no '.').");
        if (_parameters.Any(p => p.Name == name) || _children.Any(c => c.Name == name) || _buffers.Any(b => b.Name == name))
            throw new ArgumentException($"{GetType().Name}: the name '{name}' is already registered.");
    }

    /// <summary>Every parameter of this module and (when <paramref name="recurse"/>) its descendants, in registration order, each once.</summary>
    public IEnumerable<Parameter> Parameters(bool recurse = true) => NamedParameters(recurse: recurse).Select(p => p.Parameter);

    /// <summary>Parameters with their dotted names (<c>encoder.0.weight</c>), in registration order; a parameter shared by two modules appears once.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters(string prefix = "", bool recurse = true)
    {
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var (path, module) in recurse ? NamedModules(prefix) : [(prefix, this)])
            foreach (var (name, p) in module._parameters)
                if (seen.Add(p)) yield return (Join(path, name), p);
    }

    /// <summary>The direct submodules.</summary>
    public IEnumerable<Module> Children() => _children.Select(c => c.Module);

    /// <summary>The direct submodules with their names.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren() => _children;

    /// <summary>This module and every descendant, depth first (pre-order).</summary>
    public IEnumerable<Module> Modules() => NamedModules().Select(m => m.Module);

    /// <summary>This module (named <paramref name="prefix"/>, "" by default) and every descendant with its dotted name, depth first; each module once.</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(string, Module)>();
        stack.Push((prefix, this));
        while (stack.Count > 0)
        {
            var (path, m) = stack.Pop();
            if (!seen.Add(m)) continue;
            yield return (path, m);
            for (int i = m._children.Count - 1; i >= 0; i--)
                stack.Push((Join(path, m._children[i].Name), m._children[i].Module));
        }
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    /// <summary>Sets training mode on this module and every descendant; returns this module.</summary>
    public Module Train(bool mode = true)
    {
        foreach (var m in Modules()) m.IsTraining = mode;
        return this;
    }

    /// <summary>Sets evaluation mode (<c>Train(false)</c>); returns this module.</summary>
    public Module Eval() => Train(false);

    /// <summary>Moves every parameter and buffer to <paramref name="device"/> (dropping gradients); returns this module. Optimizers built on the parameters keep working.</summary>
    public Module To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        foreach (var p in Parameters())
        {
            if (p.Device == device) continue;
            Tensor moved;
            using (TensorScope.Suspend())
            using (Autograd.NoGrad())
                moved = p.Data.To(device);
            var old = p.Data;
            p.Data = moved;
            old.Dispose();
        }
        foreach (var m in Modules())
            for (int i = 0; i < m._buffers.Count; i++)
            {
                var (name, b) = m._buffers[i];
                if (b.Device == device) continue;
                Tensor moved;
                using (TensorScope.Suspend())
                    moved = b.To(device);
                m._buffers[i] = (name, moved);
                b.Dispose();
            }
        return this;
    }

    /// <summary>Drops every parameter's gradient (sets it to null).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>Total number of parameter elements.</summary>
    public long NumParameters() => Parameters().Sum(p => p.NumElements);

    /// <summary>
    /// Name → tensor for every parameter and buffer, module by module in registration order, as PyTorch's <c>state_dict</c>.
    /// The tensors are the parameters and buffers themselves, not copies: read or save them, do not dispose them.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor>();
        foreach (var (name, t) in NamedState()) dict[name] = t;
        return dict;
    }

    /// <summary>What state dicts hold, in PyTorch's order: module by module (pre-order), its parameters (each once) then its buffers.</summary>
    private List<(string Name, Tensor Tensor)> NamedState()
    {
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        var state = new List<(string Name, Tensor Tensor)>();
        foreach (var (path, module) in NamedModules())
        {
            foreach (var (name, p) in module._parameters)
                if (seen.Add(p)) state.Add((Join(path, name), p.Data));
            foreach (var (name, b) in module._buffers) state.Add((Join(path, name), b));
        }
        return state;
    }

    /// <summary>
    /// Copies the tensors of <paramref name="stateDict"/> into the parameters and buffers of the same names (converting dtype and device).
    /// With <paramref name="strict"/>, a missing or unexpected key is an error naming every such key; a shape mismatch always is.
    /// Everything is checked before the first parameter is written, so an error leaves the module unchanged.
    /// </summary>
    /// <returns>The keys that were missing from the dictionary and the keys it had that no parameter has (both empty when strict).</returns>
    public LoadStateDictResult LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        stateDict = UpgradeStateDict(stateDict);
        var result = CheckStateDict(stateDict, strict);
        using (Tensor.NewScope())
        using (Autograd.NoGrad())
        {
            foreach (var (name, t) in NamedState())
            {
                if (!stateDict.TryGetValue(name, out var src)) continue;
                var onDevice = src.Device == t.Device ? src : src.To(t.Device);
                t.CopyFrom(onDevice);
            }
        }
        return result;
    }

    /// <summary>What <see cref="LoadStateDict"/> checks, without copying anything: throws naming every bad key.</summary>
    internal LoadStateDictResult CheckStateDict(IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        stateDict = UpgradeStateDict(stateDict);
        var named = NamedState();
        var names = named.Select(n => n.Name).ToHashSet();
        var missing = named.Where(n => !stateDict.ContainsKey(n.Name)).Select(n => n.Name).ToList();
        var unexpected = stateDict.Keys.Where(k => !names.Contains(k)).ToList();
        var broken = stateDict.Where(kv => kv.Value is null || kv.Value.IsDisposed).Select(kv => $"'{kv.Key}'").ToList();
        var mismatched = named.Where(n => stateDict.TryGetValue(n.Name, out var t) && t is { IsDisposed: false } && !t.Shape.SequenceEqual(n.Tensor.Shape))
            .Select(n => $"'{n.Name}': checkpoint {Parameter.Format(stateDict[n.Name].ShapeArray)}, model {Parameter.Format(n.Tensor.ShapeArray)}").ToList();
        var errors = new List<string>();
        if (strict && missing.Count > 0) errors.Add($"missing keys: {string.Join(", ", missing.Select(k => $"'{k}'"))}");
        if (strict && unexpected.Count > 0) errors.Add($"unexpected keys: {string.Join(", ", unexpected.Select(k => $"'{k}'"))}");
        if (broken.Count > 0) errors.Add($"null or disposed tensors: {string.Join(", ", broken)}");
        if (mismatched.Count > 0) errors.Add($"shape mismatches: {string.Join("; ", mismatched)}");
        if (errors.Count > 0)
            throw new InvalidOperationException($"LoadStateDict into {GetType().Name}: {string.Join("; ", errors)}.");
        return new LoadStateDictResult(missing, unexpected);
    }

    /// <summary>
    /// Renames the keys of a state dict written by an older version of this module to today's names, before
    /// <see cref="LoadStateDict"/> checks and loads it (the root module's only); the default returns it unchanged.
    /// </summary>
    protected virtual IReadOnlyDictionary<string, Tensor> UpgradeStateDict(IReadOnlyDictionary<string, Tensor> stateDict) => stateDict;

    /// <summary>Saves <see cref="StateDict"/> to a safetensors file (atomically: a crash never leaves a half-written file).</summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? metadata = null) => Safetensors.Save(path, StateDict(), metadata);

    /// <summary>Loads parameters from a safetensors file written by <see cref="Save"/> (or any file with matching names and shapes).</summary>
    public LoadStateDictResult Load(string path, bool strict = true)
    {
        var device = Parameters().FirstOrDefault()?.Device ?? Device.Default;
        using var scope = Tensor.NewScope();
        var tensors = Safetensors.Load(path, device);
        try
        {
            return LoadStateDict(tensors, strict);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Extra text shown after the module's name in <see cref="ToString"/> (e.g. <c>in=784, out=10</c>).</summary>
    protected virtual string ExtraRepr() => "";

    /// <summary>A PyTorch-style tree of the module and its children.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        Write(sb, 0);
        return sb.ToString();
    }

    private void Write(StringBuilder sb, int indent)
    {
        sb.Append(GetType().Name).Append('(').Append(ExtraRepr());
        if (_children.Count > 0)
        {
            sb.AppendLine();
            foreach (var (name, child) in _children)
            {
                sb.Append(' ', indent + 2).Append('(').Append(name).Append("): ");
                child.Write(sb, indent + 2);
                sb.AppendLine();
            }
            sb.Append(' ', indent);
        }
        sb.Append(')');
    }

    /// <summary>Frees the parameters and buffers of this module and its descendants.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in Parameters()) p.Dispose();
        foreach (var b in Buffers()) b.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>What <see cref="Module.LoadStateDict"/> did not match.</summary>
/// <param name="MissingKeys">Parameter and buffer names absent from the dictionary (left unchanged).</param>
/// <param name="UnexpectedKeys">Dictionary keys that name no parameter or buffer (ignored).</param>
public sealed record LoadStateDictResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys);
