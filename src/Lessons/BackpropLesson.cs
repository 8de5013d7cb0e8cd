using GpuNet.Nn;

namespace GpuNet.Lessons;

/// <summary>One node of a computational graph: its forward value and the gradient of the output with respect to it.</summary>
/// <param name="Name">The node, e.g. "g = x*y".</param>
/// <param name="Value">Forward value.</param>
/// <param name="Gradient">∂L/∂node from backprop.</param>
public sealed record GraphNode(string Name, double Value, double Gradient);

/// <summary>A Jacobian with a label.</summary>
/// <param name="Name">What it is the Jacobian of.</param>
/// <param name="Matrix">Rows = outputs, columns = inputs.</param>
public sealed record LabelledMatrix(string Name, double[][] Matrix);

/// <summary>What <see cref="BackpropLesson"/> shows.</summary>
/// <param name="ChainRule">f(x) = e^{sin(x²)}: nodes and gradients.</param>
/// <param name="ChainRuleByHand">e^{sin x²}·cos(x²)·2x.</param>
/// <param name="WorkedGraph">L = (x·y + z)² at x = −2, y = 3, z = 5: −2 arrives at f and flows back.</param>
/// <param name="FanOut">x¹ feeds both x² and x³: the notes' graph with numbers.</param>
/// <param name="FanOutPaths">The two contributions to ∂L/∂x¹ (Jᵀ·upstream per path) and their sum.</param>
/// <param name="SoftmaxInput">The vector s whose softmax is differentiated.</param>
/// <param name="SoftmaxJacobian">∂softmax(s)/∂s from <see cref="Autograd.Jacobian"/>.</param>
/// <param name="SoftmaxJacobianByHand">pᵢ(δᵢⱼ − pⱼ).</param>
/// <param name="Stages">The Jacobians J_f1 … J_f4 of the stages of L(x) = ½‖W₂σ(W₁x + b₁) + b₂‖², each at its own input.</param>
/// <param name="ChainProduct">J_f4·J_f3·J_f2·J_f1 multiplied out with MatMul.</param>
/// <param name="BackpropGradient">∂L/∂x from one backward pass.</param>
/// <param name="ReverseOrderCost">Multiply-adds for ((J4·J3)·J2)·J1, the order backprop uses (vector-Jacobian products).</param>
/// <param name="ForwardOrderCost">Multiply-adds for J4·(J3·(J2·J1)).</param>
public sealed record BackpropLessonResult(
    IReadOnlyList<GraphNode> ChainRule, double ChainRuleByHand,
    IReadOnlyList<GraphNode> WorkedGraph,
    IReadOnlyList<GraphNode> FanOut, (double ViaX3, double ViaX2, double Sum) FanOutPaths,
    double[] SoftmaxInput, double[][] SoftmaxJacobian, double[][] SoftmaxJacobianByHand,
    IReadOnlyList<LabelledMatrix> Stages, double[] ChainProduct, double[] BackpropGradient, long ReverseOrderCost, long ForwardOrderCost)
{
    /// <summary>max |autograd − formula| over the softmax Jacobian.</summary>
    public double SoftmaxDifference => SoftmaxJacobian.Zip(SoftmaxJacobianByHand).SelectMany(p => p.First.Zip(p.Second, (a, b) => Math.Abs(a - b))).Max();

    /// <summary>max |chain product − backprop| over ∂L/∂x.</summary>
    public double ChainDifference => ChainProduct.Zip(BackpropGradient, (a, b) => Math.Abs(a - b)).Max();
}

/// <summary>
/// Lesson "backprop": backpropagation as the chain rule over a graph of Jacobians, with numbers —
/// per-node values and gradients of the notes' graphs (e^{sin x²}, the worked graph with −2 on the
/// way back, a node reached by two paths whose gradient is the sum), the softmax Jacobian, and the chain
/// of stage Jacobians multiplied out and compared with one backward pass. All in float64.
/// </summary>
public static class BackpropLesson
{
    /// <summary>Runs the lesson.</summary>
    public static BackpropLessonResult Run()
    {
        using var scope = Tensor.NewScope();
        var (chain, byHand) = ChainRule(1.5);
        var worked = WorkedGraph(-2, 3, 5);
        var (fanOut, paths) = FanOut();
        double[] s = [1.0, 2.0, 0.5];
        var (jac, jacHand) = SoftmaxJacobian(s);
        var (stages, product, backprop, reverse, forward) = JacobianChain();
        return new BackpropLessonResult(chain, byHand, worked, fanOut, paths, s, jac, jacHand, stages, product, backprop, reverse, forward);
    }

    private static Tensor Leaf(double v) => Tensor.Scalar(v, DType.Float64, requiresGrad: true);

    private static double V(Tensor t) => t.Item<double>();

    // ∂L/∂node for every node, the output included, from one backward pass (intermediate nodes can be Grad's inputs).
    private static double[] Gradients(Tensor output, params Tensor[] nodes) =>
        Autograd.Grad([output], nodes, retainGraph: true).Select(g => V(g!)).ToArray();

    private static (List<GraphNode>, double) ChainRule(double x0)
    {
        var x = Leaf(x0);
        var a = x * x;
        var b = a.Sin();
        var f = b.Exp();
        var g = Gradients(f, x, a, b, f);
        var nodes = new List<GraphNode>
        {
            new("x", V(x), g[0]), new("a = x^2", V(a), g[1]), new("b = sin a", V(b), g[2]), new("f = e^b", V(f), g[3]),
        };
        return (nodes, Math.Exp(Math.Sin(x0 * x0)) * Math.Cos(x0 * x0) * 2 * x0);
    }

    private static List<GraphNode> WorkedGraph(double x0, double y0, double z0)
    {
        var x = Leaf(x0);
        var y = Leaf(y0);
        var z = Leaf(z0);
        var g = x * y;
        var f = g + z;
        var l = f * f;
        var d = Gradients(l, x, y, z, g, f, l);
        return
        [
            new("x", V(x), d[0]), new("y", V(y), d[1]), new("z", V(z), d[2]),
            new("g = x*y", V(g), d[3]), new("f = g + z", V(f), d[4]), new("L = f^2", V(l), d[5]),
        ];
    }

    // The notes' graph: x¹ = φ¹(x⁰; w¹), x² = φ²(x⁰, x¹; w²), x³ = φ³(x¹, x²; w³), L = (x³)².
    private static Tensor Phi1(Tensor x0, Tensor w1) => w1 * x0;
    private static Tensor Phi2(Tensor x0, Tensor x1, Tensor w2) => w2 * x0 * x1;
    private static Tensor Phi3(Tensor x1, Tensor x2, Tensor w3) => w3 * x1 + x2;

    private static (List<GraphNode>, (double, double, double)) FanOut()
    {
        var x0 = Leaf(2);
        var w1 = Leaf(0.5);
        var w2 = Leaf(-1);
        var w3 = Leaf(3);
        var x1 = Phi1(x0, w1);
        var x2 = Phi2(x0, x1, w2);
        var x3 = Phi3(x1, x2, w3);
        var l = x3 * x3;
        var d = Gradients(l, x0, x1, x2, x3, w1, w2, w3);
        var nodes = new List<GraphNode>
        {
            new("x0", V(x0), d[0]), new("x1 = w1*x0", V(x1), d[1]), new("x2 = w2*x0*x1", V(x2), d[2]),
            new("x3 = w3*x1 + x2", V(x3), d[3]), new("L = x3^2", V(l), 1),
            new("w1", V(w1), d[4]), new("w2", V(w2), d[5]), new("w3", V(w3), d[6]),
        };
        // dL/dx1 = J_{phi3/x1}^T dL/dx3 + J_{phi2/x1}^T dL/dx2, each local Jacobian taken with the other inputs held fixed.
        var x2Fixed = x2.Detach();
        var x0Fixed = x0.Detach();
        double j3 = V(Autograd.Jacobian(v => Phi3(v, x2Fixed, w3.Detach()), x1.Detach()));
        double j2 = V(Autograd.Jacobian(v => Phi2(x0Fixed, v, w2.Detach()), x1.Detach()));
        double viaX3 = j3 * d[3], viaX2 = j2 * d[2];
        return (nodes, (viaX3, viaX2, viaX3 + viaX2));
    }

    private static (double[][], double[][]) SoftmaxJacobian(double[] s)
    {
        var input = Tensor.FromArray(s);
        var jac = Autograd.Jacobian(v => v.Softmax(0), input);
        var p = input.Softmax(0).ToArray<double>();
        var byHand = p.Select((pi, i) => p.Select((pj, j) => pi * ((i == j ? 1 : 0) - pj)).ToArray()).ToArray();
        return (Rows(jac), byHand);
    }

    private static (List<LabelledMatrix>, double[], double[], long, long) JacobianChain()
    {
        using var f1 = new Linear(3, 4, seed: 1, dtype: DType.Float64);
        var f2 = new Sigmoid();
        using var f3 = new Linear(4, 2, seed: 2, dtype: DType.Float64);
        static Tensor F4(Tensor y) => (y * y).Sum() * 0.5;      // ½‖y‖², R² → R
        var x = Tensor.FromArray(new[] { 0.5, -1.0, 2.0 }, requiresGrad: true);

        // Forward, keeping each stage's input; then each stage's Jacobian at its own input.
        var h1 = f1.Forward(x);
        var h2 = f2.Forward(h1);
        var h3 = f3.Forward(h2);
        var l = F4(h3);
        l.Backward();
        var backprop = x.Grad!.ToArray<double>();

        // (Jacobian needs grad mode on: it differentiates the stage it is given.)
        var j1 = Autograd.Jacobian(f1.Forward, x.Detach());          // [4, 3]
        var j2 = Autograd.Jacobian(f2.Forward, h1.Detach());         // [4, 4], diagonal σ'(h1)
        var j3 = Autograd.Jacobian(f3.Forward, h2.Detach());         // [2, 4]
        var j4 = Autograd.Jacobian(F4, h3.Detach()).Reshape(1, -1);  // [1, 2] = h3ᵀ
        var product = j4.MatMul(j3).MatMul(j2).MatMul(j1);          // [1, 3]
        var stages = new List<LabelledMatrix>
        {
            new("J_f1 = W1 (Linear 3->4)", Rows(j1)), new("J_f2 = diag(sigmoid'(h1))", Rows(j2)),
            new("J_f3 = W2 (Linear 4->2)", Rows(j3)), new("J_f4 = y^T (L = 0.5*||y||^2)", Rows(j4)),
        };
        long reverse = 1L * 2 * 4 + 1L * 4 * 4 + 1L * 4 * 3;       // (1x2·2x4), (1x4·4x4), (1x4·4x3)
        long forward = 4L * 4 * 3 + 2L * 4 * 3 + 1L * 2 * 3;       // (4x4·4x3), (2x4·4x3), (1x2·2x3)
        return (stages, product.ToArray<double>(), backprop, reverse, forward);
    }

    private static double[][] Rows(Tensor t)
    {
        var values = t.ToArray<double>();
        int width = t.Rank == 2 ? t.Shape[1] : values.Length;
        return values.Chunk(width).ToArray();
    }
}
