using GpuNet.Lessons;

namespace GpuNet.Tests.Lessons;

public class BackpropTests
{
    private static readonly BackpropLessonResult Result = BackpropLesson.Run();

    private static GraphNode Node(IEnumerable<GraphNode> nodes, string prefix) => nodes.Single(n => n.Name.StartsWith(prefix, StringComparison.Ordinal));

    [Fact]
    public void Worked_graph_matches_the_notes()
    {
        var g = Result.WorkedGraph;
        Assert.Equal(-2, Node(g, "f").Gradient, 12);      // dL/df = -2
        Assert.Equal(-2, Node(g, "g").Gradient, 12);      // (-2) x 1
        Assert.Equal(-2, Node(g, "z").Gradient, 12);
        Assert.Equal(-6, Node(g, "x").Gradient, 12);      // (-2) x y, y = 3
        Assert.Equal(4, Node(g, "y").Gradient, 12);       // (-2) x x, x = -2
    }

    [Fact]
    public void Chain_rule_matches_the_derivative_by_hand()
    {
        Assert.Equal(Result.ChainRuleByHand, Node(Result.ChainRule, "x").Gradient, 12);
        double x = 1.5;
        Assert.Equal(Math.Exp(Math.Sin(x * x)), Node(Result.ChainRule, "b").Gradient, 12);   // df/db = e^b
    }

    [Fact]
    public void Gradient_of_a_node_reached_by_two_paths_is_the_sum()
    {
        var (viaX3, viaX2, sum) = Result.FanOutPaths;
        Assert.Equal(6, viaX3, 12);
        Assert.Equal(-4, viaX2, 12);
        Assert.Equal(Node(Result.FanOut, "x1").Gradient, sum, 12);
    }

    [Fact]
    public void Softmax_jacobian_and_the_chain_of_jacobians_match()
    {
        Assert.True(Result.SoftmaxDifference < 1e-12);
        foreach (var row in Result.SoftmaxJacobian) Assert.Equal(0, row.Sum(), 12);   // softmax sums to 1
        Assert.Equal([4, 4, 2, 1], Result.Stages.Select(s => s.Matrix.Length));
        Assert.True(Result.ChainDifference < 1e-12, $"{Result.ChainDifference}");
        Assert.Contains(Result.BackpropGradient, v => Math.Abs(v) > 1e-4);
        Assert.True(Result.ReverseOrderCost < Result.ForwardOrderCost);
    }

    // Two engine properties the lesson relies on (fixed in src/Tensor for it).

    [Fact]
    public void Grad_accepts_the_output_among_its_inputs()
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.Scalar(3, DType.Float64, requiresGrad: true);
        var f = x * x;
        var g = Autograd.Grad([f], [x, f]);
        Assert.Equal(6, g[0]!.Item<double>());
        Assert.Equal(1, g[1]!.Item<double>());
    }

    [Fact]
    public void Jacobian_records_the_function_even_inside_NoGrad()
    {
        using var scope = Tensor.NewScope();
        var v = Tensor.FromArray(new[] { 1.0, 2.0 });
        using var noGrad = Autograd.NoGrad();
        var j = Autograd.Jacobian(t => t * t, v);
        Assert.Equal([2.0, 0, 0, 4], j.ToArray<double>());
        Assert.False(Autograd.IsGradEnabled);
    }
}
