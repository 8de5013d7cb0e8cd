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
    /// <remarks>
    /// Ownership is simple: every gradient value the engine holds is its own — the seeds, what each
    /// <see cref="Node{T}.Backward(T)"/> returns (never its argument, never one value twice) and the sums it
    /// makes — and each is handed on exactly once: to a leaf (<see cref="LeafNode{T}.Accumulate"/> takes
    /// it), to the caller (a captured gradient), or to <see cref="IGradientArithmetic{T}.Free"/>. Values that
    /// share memory (a tensor and its alias) keep it alive through their own reference counts.
    /// </remarks>
    /// <param name="roots">Nodes whose gradient is seeded.</param>
    /// <param name="seeds">One gradient per root; the engine takes them.</param>
    /// <param name="arithmetic">How gradients add and are freed.</param>
    /// <param name="retainGraph">Keep the graph for another backward; otherwise every visited node is released.</param>
    /// <param name="createGraph">The backward pass is itself being recorded: nothing is freed, since later gradients reference it.</param>
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
        var captureIndex = new Dictionary<Node<T>, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < (capture?.Count ?? 0); i++) captureIndex.TryAdd(capture![i], i);
        var captured = new T?[capture?.Count ?? 0];
        var needed = capture is null ? null : Needed(order, captureIndex);
        bool Runs(Node<T> node) => needed is null || node.Inputs.Any(input => input is not null && needed.Contains(input));
        // Saved values are checked before any VJP runs: an error then leaves no leaf half-accumulated.
        foreach (var node in order)
            if (Runs(node)) node.CheckSaved();

        var pending = new Dictionary<Node<T>, T>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < roots.Count; i++) Add(roots[i], seeds[i]);
        foreach (var node in order)
        {
            if (!pending.Remove(node, out var grad)) continue; // no gradient reached it
            bool kept = captureIndex.TryGetValue(node, out int ci);
            if (kept) captured[ci] = grad;
            if (node is LeafNode<T> leaf)
            {
                if (capture is null) { leaf.Accumulate(grad); continue; }
            }
            else if (Runs(node))
            {
                var inputGrads = node.Backward(grad, spare: !kept && !createGraph);
                if (inputGrads.Length != node.Inputs.Length)
                    throw new InvalidOperationException($"Backward of '{node.Name}' returned {inputGrads.Length} gradients for {node.Inputs.Length} inputs.");
                for (int i = 0; i < inputGrads.Length; i++)
                    if (inputGrads[i] is { } g) { if (node.Inputs[i] is { } input) Add(input, g); else Free(g); }
                if (!retainGraph) node.Release();
            }
            if (!kept) Free(grad);
        }
        foreach (var leftover in pending.Values) Free(leftover);
        return captured;

        void Add(Node<T> target, T g) // fan-in: gradients along every path add up
        {
            if (pending.Remove(target, out var existing)) { var sum = arithmetic.Add(existing, g); Free(existing); Free(g); g = sum; }
            pending[target] = g;
        }

        void Free(T g) { if (!createGraph) arithmetic.Free(g); }
    }

    // With capture targets, only the part of the graph between the roots and the targets runs (and is
    // freed): a node is needed when it is a target or one of its inputs is needed.
    private static HashSet<Node<T>> Needed<T>(List<Node<T>> order, Dictionary<Node<T>, int> targets) where T : class
    {
        var needed = new HashSet<Node<T>>(ReferenceEqualityComparer.Instance);
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var node = order[i];
            if (targets.ContainsKey(node) || node.Inputs.Any(input => input is not null && needed.Contains(input))) needed.Add(node);
        }
        return needed;
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
