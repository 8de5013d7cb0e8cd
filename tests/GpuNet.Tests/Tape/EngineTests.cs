using GpuNet.Tape;

namespace GpuNet.Tests.Tape;

public sealed class EngineTests
{
    private static void Backward(Num root, NumArithmetic? arithmetic = null, bool retain = false) =>
        Engine.Backward([root.Node!], [new Num(1)], arithmetic ?? new NumArithmetic(), retain, createGraph: false);

    [Fact]
    public void ChainRule_ExpSinSquare_MatchesTheNotesClosedForm()
    {
        // d/dx exp(sin(x²)) = exp(sin(x²)) · cos(x²) · 2x, the notes' worked example.
        double x0 = 0.7;
        var x = Num.Leaf(x0, "x");
        var y = x.Square().Sin().Exp();
        Backward(y);
        double expected = Math.Exp(Math.Sin(x0 * x0)) * Math.Cos(x0 * x0) * 2 * x0;
        Assert.Equal(expected, x.Grad!.Value, 12);
    }

    [Fact]
    public void FanOut_GradientIsTheSumOverBothPaths()
    {
        // x¹ = φ¹(x⁰); x² = φ²(x⁰, x¹); x³ = φ³(x¹, x²): x¹ reaches the loss along two paths.
        var x0 = Num.Leaf(1.5, "x0");
        var x1 = x0.Square();          // 2.25
        var x2 = x0 * x1;              // x0³
        var x3 = x1 + x2;              // x0² + x0³
        Backward(x3);
        Assert.Equal(2 * 1.5 + 3 * 1.5 * 1.5, x0.Grad!.Value, 12);
    }

    [Fact]
    public void WorkedGraph_GradientMinusTwoOnTheWayBack()
    {
        // f = (x + y) · z with x = −2, y = 5, z = −4: ∂f/∂x = ∂f/∂y = z = −4, ∂f/∂z = x + y = 3;
        // the gradient arriving at the sum node from the product is −4 · 1, and with z = −2 it is −2.
        var x = Num.Leaf(-2, "x");
        var y = Num.Leaf(5, "y");
        var z = Num.Leaf(-2, "z");
        var f = (x + y) * z;
        Backward(f);
        Assert.Equal(-2, x.Grad);
        Assert.Equal(-2, y.Grad);
        Assert.Equal(3, z.Grad);
    }

    [Fact]
    public void TopologicalOrder_EveryConsumerComesBeforeItsProducers()
    {
        var a = Num.Leaf(1, "a");
        var b = Num.Leaf(2, "b");
        var c = a * b;
        var d = c + a;
        var e = d * c;
        var order = Engine.TopologicalOrder([e.Node!]);
        int Pos(Num n) => order.IndexOf(n.Node!);
        Assert.True(Pos(e) < Pos(d));
        Assert.True(Pos(d) < Pos(c));
        Assert.True(Pos(c) < Pos(a));
        Assert.True(Pos(c) < Pos(b));
        Assert.Equal(order.Count, order.Distinct().Count());
    }

    [Fact]
    public void EachNodeRunsItsBackwardOnce_EvenWhenReachedByManyPaths()
    {
        var x = Num.Leaf(0.3, "x");
        var s = x.Sin();
        var sum = s + s;
        var total = sum + s;
        Backward(total);
        Assert.Equal(1, ((Num.FnNode)s.Node!).Calls);
        Assert.Equal(3 * Math.Cos(0.3), x.Grad!.Value, 12);
    }

    [Fact]
    public void BackwardTwice_WithoutRetainGraph_IsAClearError()
    {
        var x = Num.Leaf(2, "x");
        var y = x.Square();
        Backward(y);
        var e = Assert.Throws<InvalidOperationException>(() => Backward(y));
        Assert.Contains("second time", e.Message);
        Assert.Contains("retainGraph", e.Message);
    }

    [Fact]
    public void BackwardTwice_WithRetainGraph_Accumulates()
    {
        var x = Num.Leaf(3, "x");
        var y = x.Square();
        Backward(y, retain: true);
        Backward(y, retain: true);
        Assert.Equal(12, x.Grad);
    }

    [Fact]
    public void Capture_ReturnsGradientsOfIntermediates_WithoutTouchingLeaves()
    {
        var x = Num.Leaf(2, "x");
        var h = x.Square();
        var y = h * h; // y = x⁴, ∂y/∂h = 2h = 8
        var got = Engine.Backward([y.Node!], [new Num(1)], new NumArithmetic(), retainGraph: false, createGraph: false, capture: [h.Node!, x.Node!]);
        Assert.Equal(8, got[0]!.Value);
        Assert.Equal(32, got[1]!.Value);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void EveryValueTheEngineHolds_IsFreedOnce_ExceptWhatLeavesTake()
    {
        var arithmetic = new NumArithmetic();
        var a = Num.Leaf(1, "a");
        var b = Num.Leaf(2, "b");
        var c = a + b;        // add returns one value per input
        var d = c + c;        // fan-out onto c: the engine makes one sum and frees both parts
        var seed = new Num(1);
        Engine.Backward([d.Node!], [seed], arithmetic, retainGraph: false, createGraph: false);
        Assert.Equal(2, a.Grad);
        Assert.Equal(2, b.Grad);
        Assert.Equal(1, seed.FreedCount); // the engine takes the seed
        Assert.All(arithmetic.Freed, n => Assert.Equal(1, n.FreedCount));
        // Freed: the seed, d's two gradients for c and their sum after c's backward; a's and b's went to the leaves.
        Assert.Equal(4, arithmetic.Freed.Count);
    }

    [Fact]
    public void DeepChain_DoesNotOverflowTheStack()
    {
        var x = Num.Leaf(1, "x");
        var y = x;
        for (int i = 0; i < 100_000; i++) y = y + Num.Leaf(0, "z");
        Backward(y);
        Assert.Equal(1, x.Grad);
    }

    [Fact]
    public void GradMode_DisableNestsAndRestores()
    {
        Assert.True(GradMode.IsEnabled);
        using (GradMode.Disable())
        {
            Assert.False(GradMode.IsEnabled);
            using (GradMode.Disable()) Assert.False(GradMode.IsEnabled);
            Assert.False(GradMode.IsEnabled);
            using (GradMode.Enable()) Assert.True(GradMode.IsEnabled);
            Assert.False(GradMode.IsEnabled);
        }
        Assert.True(GradMode.IsEnabled);
    }

    [Fact]
    public void GradMode_IsPerThread()
    {
        using (GradMode.Disable())
        {
            bool other = false;
            var thread = new Thread(() => other = GradMode.IsEnabled);
            thread.Start();
            thread.Join();
            Assert.True(other);
            Assert.False(GradMode.IsEnabled);
        }
    }
}
