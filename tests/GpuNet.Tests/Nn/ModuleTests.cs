using GpuNet.Nn;
using Xunit;
using static GpuNet.Tests.Nn.NnTestUtil;

namespace GpuNet.Tests.Nn;

public class ModuleTests
{
    [Fact]
    public void Linear_computes_x_Wt_plus_b()
    {
        using var lin = new Linear(3, 2, dtype: DType.Float64, device: Cpu);
        using (Autograd.NoGrad())
        {
            lin.Weight.Data.CopyFrom(F64([1, 2, 3, -1, 0, 2], 2, 3));
            lin.Bias!.Data.CopyFrom(F64([0.5, -0.5], 2));
        }
        using var scope = Tensor.NewScope();
        var y = lin.Forward(F64([1, 1, 1, 2, 0, -1], 2, 3));
        Assert.Equal([2, 2], y.Shape);
        // row 1: [1+2+3, -1+0+2] + b = [6.5, 0.5]; row 2: [2+0-3, -2+0-2] + b = [-0.5, -4.5]
        Near([6.5, 0.5, -0.5, -4.5], D(y));
    }

    [Fact]
    public void Linear_default_init_is_uniform_within_one_over_sqrt_fan_in()
    {
        using var lin = new Linear(100, 50, seed: 7, device: Cpu);
        double bound = 1 / Math.Sqrt(100);
        var w = lin.Weight.ToArray();
        var b = lin.Bias!.ToArray();
        Assert.All(w, v => Assert.InRange(v, -bound, bound));
        Assert.All(b, v => Assert.InRange(v, -bound, bound));
        // U(-a, a) has variance a²/3.
        double var = w.Select(v => (double)v * v).Average();
        Near(bound * bound / 3, var, 0.1);
        Assert.Equal([50, 100], lin.Weight.Shape);
        Assert.True(lin.Weight.RequiresGrad);
        // Seeded: the same seed gives the same weights, another seed others.
        using var same = new Linear(100, 50, seed: 7, device: Cpu);
        using var other = new Linear(100, 50, seed: 8, device: Cpu);
        Assert.Equal(w, same.Weight.ToArray());
        Assert.NotEqual(w, other.Weight.ToArray());
    }

    [Fact]
    public void Linear_without_bias_and_bad_input()
    {
        using var lin = new Linear(4, 3, bias: false, seed: 1, device: Cpu);
        Assert.Null(lin.Bias);
        Assert.Single(lin.Parameters());
        using var scope = Tensor.NewScope();
        var e = Assert.Throws<ArgumentException>(() => lin.Forward(Tensor.Zeros([2, 5], device: Cpu)));
        Assert.Contains("[2,5]", e.Message);
        Assert.Contains("4 features", e.Message);
    }

    [Fact]
    public void Mlp_has_stable_dotted_names()
    {
        using var mlp = new Mlp([4, 8, 6, 3], Kernels.Activation.Tanh, dropout: 0.1, seed: 1, device: Cpu);
        var names = mlp.NamedParameters().Select(p => p.Name).ToArray();
        Assert.Equal(["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"], names);
        Assert.Equal(4 * 8 + 8 + 8 * 6 + 6 + 6 * 3 + 3, mlp.NumParameters());
        Assert.IsType<Tanh>(mlp.Layers[1]);
        Assert.IsType<Dropout>(mlp.Layers[2]);
        var modules = mlp.NamedModules().Select(m => m.Name).ToArray();
        Assert.Equal(["", "0", "1", "2", "3", "4", "5", "6"], modules);
        Assert.Contains("Linear(in=4, out=8, bias=True)", mlp.ToString());
    }

    [Fact]
    public void Train_and_Eval_reach_every_descendant()
    {
        using var mlp = new Mlp([2, 3, 2], dropout: 0.5, seed: 1, device: Cpu);
        Assert.All(mlp.Modules(), m => Assert.True(m.IsTraining));
        mlp.Eval();
        Assert.All(mlp.Modules(), m => Assert.False(m.IsTraining));
        mlp.Train();
        Assert.All(mlp.Modules(), m => Assert.True(m.IsTraining));
    }

    [Fact]
    public void ZeroGrad_clears_every_gradient()
    {
        using var mlp = new Mlp([3, 4, 2], seed: 2, device: Cpu);
        using (Tensor.NewScope())
        {
            var y = mlp.Forward(Tensor.Ones([5, 3], device: Cpu)).Sum();
            y.Backward();
        }
        Assert.All(mlp.Parameters(), p => Assert.NotNull(p.Grad));
        mlp.ZeroGrad();
        Assert.All(mlp.Parameters(), p => Assert.Null(p.Grad));
    }

    [Fact]
    public void Activations_and_softmax_match_their_definitions()
    {
        using var scope = Tensor.NewScope();
        var x = F64([-2, -0.5, 0, 1.5], 2, 2);
        Near([0, 0, 0, 1.5], D(new ReLU().Forward(x)));
        double[] xs = [-2, -0.5, 0, 1.5];
        Near(xs.Select(v => 1 / (1 + Math.Exp(-v))).ToArray(), D(new Sigmoid().Forward(x)));
        Near(xs.Select(Math.Tanh).ToArray(), D(new GpuNet.Nn.Tanh().Forward(x)));
        var s = D(new Softmax(1).Forward(x));
        double z0 = Math.Exp(-2) + Math.Exp(-0.5), z1 = 1 + Math.Exp(1.5);
        Near([Math.Exp(-2) / z0, Math.Exp(-0.5) / z0, 1 / z1, Math.Exp(1.5) / z1], s);
        Assert.Throws<ArgumentOutOfRangeException>(() => Activations.Create((Kernels.Activation)99));
    }

    [Fact]
    public void Sequential_chains_layers()
    {
        using var seq = new Sequential(new Linear(2, 2, dtype: DType.Float64, device: Cpu), new ReLU());
        using (Autograd.NoGrad())
        {
            var lin = (Linear)seq[0];
            lin.Weight.Data.CopyFrom(F64([1, 0, 0, -1], 2, 2));
            lin.Bias!.Data.FillInPlace(0);
        }
        using var scope = Tensor.NewScope();
        Near([3, 0], D(seq.Forward(F64([3, 4], 1, 2))));
        Assert.Equal(["0.weight", "0.bias"], seq.NamedParameters().Select(p => p.Name));
    }

    [Fact]
    public void Dropout_is_inverted_seeded_and_identity_in_eval()
    {
        var drop = new Dropout(0.25, seed: 42);
        using var scope = Tensor.NewScope();
        var x = Tensor.Ones([200, 100], device: Cpu);
        var y1 = drop.Forward(x).ToArray();
        int zeros = y1.Count(v => v == 0);
        Assert.InRange(zeros / 20000.0, 0.22, 0.28);
        Assert.All(y1.Where(v => v != 0), v => Assert.Equal(1 / 0.75f, v, 1e-6f));
        var y2 = drop.Forward(x).ToArray();
        Assert.NotEqual(y1, y2); // a fresh mask per call
        Assert.Equal(2, drop.Counter);
        drop.Counter = 0; // replaying the counter replays the masks
        Assert.Equal(y1, drop.Forward(x).ToArray());
        drop.Eval();
        using (var e = drop.Forward(x))
        {
            Assert.NotSame(x, e);
            Assert.Same(x.Storage, e.Storage);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1.0));
    }

    [Fact]
    public void Init_functions_fill_in_place_with_the_right_spread()
    {
        using var scope = Tensor.NewScope();
        var w = Tensor.Zeros([200, 300], device: Cpu);
        double Std(Tensor t) { var a = t.ToArray(); return Math.Sqrt(a.Select(v => (double)v * v).Average()); }
        Init.XavierUniform(w, seed: 1);
        double xb = Math.Sqrt(6.0 / 500);
        Assert.All(w.ToArray(), v => Assert.InRange(v, -xb, xb));
        Near(xb / Math.Sqrt(3), Std(w), 0.05);
        Init.XavierNormal(w, seed: 2);
        Near(Math.Sqrt(2.0 / 500), Std(w), 0.05);
        Init.KaimingUniform(w, seed: 3);
        double kb = Math.Sqrt(2) * Math.Sqrt(3.0 / 300);
        Assert.All(w.ToArray(), v => Assert.InRange(v, -kb, kb));
        Near(kb / Math.Sqrt(3), Std(w), 0.05);
        Init.KaimingNormal(w, fanOut: true, seed: 4);
        Near(Math.Sqrt(2.0 / 200), Std(w), 0.05);
        // Seeded: same seed, same values.
        var a = Tensor.Zeros([10, 10], device: Cpu);
        var b = Tensor.Zeros([10, 10], device: Cpu);
        Assert.Equal(Init.KaimingNormal(a, seed: 9).ToArray(), Init.KaimingNormal(b, seed: 9).ToArray());
        Assert.Equal((30, 200), Init.Fans([20, 3, 2, 5]));
        Assert.Throws<ArgumentException>(() => Init.XavierUniform(Tensor.Zeros([5], device: Cpu)));
    }

    [Fact]
    public void StateDict_round_trip_and_clear_errors()
    {
        using var a = new Mlp([3, 5, 2], seed: 1, device: Cpu);
        using var b = new Mlp([3, 5, 2], seed: 2, device: Cpu);
        Assert.NotEqual(a.Parameters().First().ToArray(), b.Parameters().First().ToArray());
        b.LoadStateDict(a.StateDict());
        foreach (var (pa, pb) in a.Parameters().Zip(b.Parameters())) Assert.Equal(pa.ToArray(), pb.ToArray());

        var partial = a.StateDict();
        partial.Remove("2.bias");
        partial["9.weight"] = a.StateDict()["0.weight"];
        var e = Assert.Throws<InvalidOperationException>(() => b.LoadStateDict(partial));
        Assert.Contains("missing keys: '2.bias'", e.Message);
        Assert.Contains("unexpected keys: '9.weight'", e.Message);
        var r = b.LoadStateDict(partial, strict: false);
        Assert.Equal(["2.bias"], r.MissingKeys);
        Assert.Equal(["9.weight"], r.UnexpectedKeys);

        using var wide = new Mlp([3, 6, 2], seed: 1, device: Cpu);
        var e2 = Assert.Throws<InvalidOperationException>(() => b.LoadStateDict(wide.StateDict()));
        Assert.Contains("'0.weight': checkpoint [6,3], model [5,3]", e2.Message);
    }

    [Fact]
    public void Parameter_must_be_a_floating_leaf()
    {
        using var scope = Tensor.NewScope();
        Assert.Throws<ArgumentException>(() => new Parameter(Tensor.Zeros([2], DType.Int32, Cpu)));
        var leaf = Tensor.Ones([2], device: Cpu, requiresGrad: true);
        Assert.Throws<ArgumentException>(() => new Parameter(leaf * 2.0));
        using var p = new Parameter(Tensor.Ones([2], device: Cpu));
        Assert.True(p.RequiresGrad);
        Tensor t = p;
        Assert.Same(p.Data, t);
    }

    [Fact]
    public void To_same_device_keeps_the_tensors()
    {
        using var lin = new Linear(2, 2, seed: 1, device: Cpu);
        var before = lin.Weight.Data;
        lin.To(Cpu);
        Assert.Same(before, lin.Weight.Data);
    }

    [Fact]
    public void To_moves_parameters_and_training_matches_on_the_ilgpu_accelerator()
    {
        var il = Device.IlgpuCpu;
        using var a = new Mlp([6, 8, 3], seed: 1, device: Cpu);
        using var b = new Mlp([6, 8, 3], seed: 1, device: Cpu);
        var first = b.Parameters().First();
        using var optB = new Adam(b.Parameters(), lr: 0.01); // built before the move: it follows the Parameter objects
        b.To(il);
        Assert.Equal(il, first.Device);
        Assert.All(b.Parameters(), p => Assert.Equal(il, p.Device));
        using var optA = new Adam(a.Parameters(), lr: 0.01);
        using var x = Tensor.Randn([5, 6], seed: 2, device: Cpu);
        using var y = I32(0, 1, 2, 0, 1);
        using var xi = x.To(il);
        using var yi = y.To(il);
        for (int step = 0; step < 3; step++)
        {
            using var scope = Tensor.NewScope();
            var la = new CrossEntropyLoss().Forward(a.Forward(x), y);
            var lb = new CrossEntropyLoss().Forward(b.Forward(xi), yi);
            Near(la.Item(), lb.Item(), 1e-5);
            optA.ZeroGrad(); la.Backward(); optA.Step();
            optB.ZeroGrad(); lb.Backward(); optB.Step();
        }
        foreach (var (pa, pb) in a.Parameters().Zip(b.Parameters()))
            Near(pa.ToArray().Select(v => (double)v).ToArray(), pb.ToArray().Select(v => (double)v).ToArray(), 1e-5);
        b.To(Cpu);
        Assert.Equal(Cpu, first.Device);
    }

    [Fact]
    public void GradCheck_through_every_module()
    {
        using var scope = Tensor.NewScope();
        var x = Tensor.Randn([3, 4], seed: 5, dtype: DType.Float64, device: Cpu, requiresGrad: true);
        using var lin = new Linear(4, 3, seed: 1, dtype: DType.Float64, device: Cpu);
        Assert.True(Autograd.GradCheck(xs => lin.Forward(xs[0]), [x, lin.Weight.Data, lin.Bias!.Data]));
        using var mlp = new Mlp([4, 5, 2], Kernels.Activation.Tanh, seed: 2, dtype: DType.Float64, device: Cpu);
        Assert.True(Autograd.GradCheck(xs => mlp.Forward(xs[0]), [x, .. mlp.Parameters().Select(p => p.Data)]));
        using var sig = new Mlp([4, 3, 2], Kernels.Activation.Sigmoid, seed: 3, dtype: DType.Float64, device: Cpu);
        Assert.True(Autograd.GradCheck(xs => sig.Forward(xs[0]), [x, .. sig.Parameters().Select(p => p.Data)]));
        Assert.True(Autograd.GradCheck(xs => new ReLU().Forward(xs[0]), [x]));
        Assert.True(Autograd.GradCheck(xs => new Softmax(1).Forward(xs[0]), [x]));
        Assert.True(Autograd.GradCheck(xs => new LogSoftmax(1).Forward(xs[0]), [x]));
        var drop = new Dropout(0.5, seed: 3);
        Assert.True(Autograd.GradCheck(xs => { drop.Counter = 0; return drop.Forward(xs[0]); }, [x]));
    }
}
