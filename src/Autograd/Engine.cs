namespace GpuNet.Tape;

/// <summary>
/// Reverse-mode differentiation over a recorded graph — the chain rule of the lecture notes run
/// right to left: every node receives the sum of the gradients along all paths from the roots,
/// then passes vector-Jacobian products to the nodes that produced its inputs.
/// </summary>
public static class Engine
{
    /// <summary>
    /// Propagates <paramref name="seeds"/> (∂L/∂root for each root) back through the graph.
    /// Leaf gradients are accumulated into their leaves unless <paramref name="capture"/> is given,
    /// in which case the total gradient reaching each captured node is returned instead (and no leaf is touched).
    /// </summary>
    /// <param name="roots">Nodes whose gradient is seeded.</param>
    /// <param name="seeds">One gradient per root.</param>
    /// <param name="arithmetic">How gradients add and are freed.</param>
    /// <param name="retainGraph">Keep the graph for another backward; otherwise every visited node is released.</param>
    /// <param name="createGraph">The backward pass is itself being recorded: nothing may be freed, since later gradients reference it.</param>
    /// <param name="capture">Nodes whose total incoming gradient is returned (for <c>Autograd.Grad</c>); null to accumulate into leaves.</param>
    public static T?[] Backward<T>(
        IReadOnlyList<Node<T>> roots, IReadOnlyList<T> seeds, IGradientArithmetic<T> arithmetic,
        bool retainGraph, bool createGraph, IReadOnlyList<Node<T>>? capture = null) where T : class
    {
        if (roots.Count != seeds.Count) throw new ArgumentException($"Backward: {roots.Count} roots but {seeds.Count} seed gradients.");
        var order = TopologicalOrder(roots);
        foreach (var node in order)
            if (node.IsReleased)
                throw new InvalidOperationException(
                    $"Backward through '{node.Name}' a second time: its saved values were already freed. " +
                    "Pass retainGraph: true to the first Backward if you need to backward twice.");

        var pending = new Dictionary<Node<T>, T>(ReferenceEqualityComparer.Instance);
        // A VJP may pass its incoming gradient straight through (Add, Reshape) or hand one object
        // to two inputs, so values are reference-counted; only values the engine or a VJP created are
        // freed — seeds belong to the caller, captured values to whoever asked for them.
        var refs = new Dictionary<T, int>(ReferenceEqualityComparer.Instance);
        var callerOwned = new HashSet<T>(seeds, ReferenceEqualityComparer.Instance);
        for (int i = 0; i < roots.Count; i++) Add(roots[i], seeds[i]);

        var captureIndex = new Dictionary<Node<T>, int>(ReferenceEqualityComparer.Instance);
        if (capture is not null)
            for (int i = 0; i < capture.Count; i++) captureIndex.TryAdd(capture[i], i);
        var captured = new T?[capture?.Count ?? 0];

        // With capture targets, only the part of the graph between the roots and the targets runs
        // (and is freed): a node is needed when it is a target or one of its inputs is needed.
        HashSet<Node<T>>? needed = null;
        if (capture is not null)
        {
            needed = new HashSet<Node<T>>(ReferenceEqualityComparer.Instance);
            for (int i = order.Count - 1; i >= 0; i--)
            {
                var node = order[i];
                bool need = captureIndex.ContainsKey(node);
                foreach (var input in node.Inputs) need |= input is not null && needed.Contains(input);
                if (need) needed.Add(node);
            }
        }

        // Saved values are checked before any VJP runs: an error then leaves no leaf half-accumulated.
        foreach (var node in order)
            if (needed is null || node.Inputs.Any(input => input is not null && needed.Contains(input)))
                node.CheckSaved();

        foreach (var node in order)
        {
            if (!pending.Remove(node, out var grad)) continue; // no gradient reached it
            if (captureIndex.TryGetValue(node, out int ci))
            {
                captured[ci] = grad;
                callerOwned.Add(grad);
            }
            if (node is LeafNode<T> leaf)
            {
                // A gradient only the engine holds can be handed over instead of copied.
                bool mayAdopt = !createGraph && !callerOwned.Contains(grad) && refs.TryGetValue(grad, out int holders) && holders == 1;
                if (capture is null && leaf.Accumulate(grad, mayAdopt))
                {
                    refs.Remove(grad);
                    continue;
                }
            }
            else if (needed is null || node.Inputs.Any(input => input is not null && needed.Contains(input)))
            {
                var inputGrads = node.Backward(grad);
                if (inputGrads.Length != node.Inputs.Length)
                    throw new InvalidOperationException($"Backward of '{node.Name}' returned {inputGrads.Length} gradients for {node.Inputs.Length} inputs.");
                for (int i = 0; i < inputGrads.Length; i++)
                {
                    var g = inputGrads[i];
                    if (g is null) continue;
                    if (node.Inputs[i] is { } input) Add(input, g);
                    else Hold(g, 0);
                }
                if (!retainGraph) node.Release();
            }
            Hold(grad, -1);
        }
        foreach (var leftover in pending.Values) Hold(leftover, -1);
        return captured;

        void Add(Node<T> target, T g)
        {
            if (pending.TryGetValue(target, out var existing))
            {
                var sum = arithmetic.Add(existing, g); // fan-out: gradients along every path add up
                Hold(sum, +1);
                pending[target] = sum;
                Hold(existing, -1);
                Hold(g, 0);
            }
            else
            {
                pending[target] = g;
                Hold(g, +1);
            }
        }

        // Adjusts the count of pending slots holding g and frees it when none is left.
        void Hold(T g, int delta)
        {
            refs.TryGetValue(g, out int count);
            count += delta;
            if (count > 0) { refs[g] = count; return; }
            refs.Remove(g);
            if (!createGraph && !callerOwned.Contains(g)) arithmetic.Free(g);
        }
    }

    /// <summary>
    /// Nodes reachable from <paramref name="roots"/>, ordered so that every node comes before the
    /// nodes that produced its inputs (consumers first). Iterative, so deep graphs cannot overflow the stack;
    /// deterministic, since it follows inputs in order.
    /// </summary>
    public static List<Node<T>> TopologicalOrder<T>(IReadOnlyList<Node<T>> roots) where T : class
    {
        var postOrder = new List<Node<T>>();
        var visited = new HashSet<Node<T>>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Node<T> Node, int NextInput)>();
        foreach (var root in roots)
        {
            if (!visited.Add(root)) continue;
            stack.Push((root, 0));
            while (stack.Count > 0)
            {
                var (node, next) = stack.Pop();
                var inputs = node.Inputs;
                if (next < inputs.Length)
                {
                    stack.Push((node, next + 1));
                    var child = inputs[next];
                    if (child is not null && visited.Add(child)) stack.Push((child, 0));
                }
                else postOrder.Add(node);
            }
        }
        postOrder.Reverse();
        return postOrder;
    }
}
