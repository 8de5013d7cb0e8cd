using GpuNet.Kernels;

namespace GpuNet;

// Elementwise ops of two operands (the unary ones are in Tensor.Unary.cs). Each public op is its forward
// (one backend launch) followed by its VJP, written in tensor ops so that it can itself be differentiated.
public sealed partial class Tensor
{
    // ---- binary ops ----

    private delegate Tensor?[] BinaryVjp(Tensor g, Tensor a, Tensor b, Tensor y);

    /// <summary>
    /// The shared forward of every broadcasting binary op: device check, dtype promotion
    /// (int32 → float32 → float64), broadcast, one launch; VJPs sum gradients back to each input's shape.
    /// </summary>
    private static Tensor ElementwiseBinary(string name, BinaryOp op, Tensor a, Tensor b, BinaryVjp? vjp, bool floatingOnly = false, Saves saves = Saves.All)
    {
        a.ThrowIfDisposed(name);
        b.ThrowIfDisposed(name);
        CheckSameDevice(name, a, b);
        var dtype = Promote(a.DType, b.DType);
        if (floatingOnly && !dtype.IsFloating()) dtype = DType.Float32;
        var shape = ShapeUtil.BroadcastShape(name, a.ShapeArray, b.ShapeArray);
        // Operands in the common dtype: the conversions are temporaries of this op.
        if (a.DType != dtype || b.DType != dtype)
            return Composite(() => ElementwiseBinary(name, op, a.To(dtype), b.To(dtype), vjp, floatingOnly, saves));
        var (pa, pb) = (a, b);
        var y = Empty(shape, dtype, a.Device, name);
        if (y.NumElements > 0)
        {
            var va = pa.BroadcastView(name, shape);
            var vb = pb.BroadcastView(name, shape);
            if (CanDefer(op, y))
            {
                pa.Storage.AddRef();
                pb.Storage.AddRef();
                y.Storage.Defer(new PendingBinary(a.Backend, op, va, vb, y.OutputView(), pa.Storage, pb.Storage));
            }
            else a.Backend.Binary(op, va, vb, y.AsView());
        }
        if (vjp is null || !WillRecord(pa, pb)) return y;
        var aShape = pa.ShapeArray;
        var bShape = pb.ShapeArray;
        // Only what the VJP reads is saved: an Add keeps no tensor alive, so its output's memory goes
        // back to the pool as soon as it is disposed. Unsaved slots pass the operand itself, whose
        // RequiresGrad flag is all such a VJP may look at.
        var owned = new List<Tensor>(3);
        Tensor Keep(Tensor t, Saves flag)
        {
            if ((saves & flag) == 0) return t;
            var alias = t.Saved();
            owned.Add(alias);
            return alias;
        }
        var sa = Keep(pa, Saves.A);
        var sb = Keep(pb, Saves.B);
        var sy = Keep(y, Saves.Y);
        var result = Record(y, name, [pa, pb], g =>
        {
            var grads = vjp(g, sa, sb, sy);
            return [grads[0]?.SumToShape(aShape), grads[1]?.SumToShape(bShape)];
        }, [.. owned]);
        return result;
    }

    /// <summary>Elements from which a binary op's result is deferred: below it the intermediate a fusion saves stays in cache anyway.</summary>
    internal const long DeferThreshold = 1 << 15;

    /// <summary>
    /// Whether a binary op's launch waits until its result is read (<see cref="PendingBinary"/>), so that
    /// an affine step on it fuses: the exactly rounded ops, on the managed CPU backend (whose launches
    /// are synchronous, and which any thread may make), for results large enough to leave the cache.
    /// </summary>
    private static bool CanDefer(BinaryOp op, Tensor y) =>
        op is BinaryOp.Add or BinaryOp.Sub or BinaryOp.Mul or BinaryOp.Div or BinaryOp.Maximum or BinaryOp.Minimum
        && y.NumElements >= DeferThreshold && y.Device.Kind == DeviceKind.Cpu;

    /// <summary>Which of (a, b, output) a binary op's VJP reads.</summary>
    [Flags]
    private enum Saves { None = 0, A = 1, B = 2, Y = 4, All = A | B | Y }

    internal static DType Promote(DType a, DType b) =>
        a == DType.Float64 || b == DType.Float64 ? DType.Float64
        : a == DType.Float32 || b == DType.Float32 ? DType.Float32
        : DType.Int32;

    /// <summary>Sums a (broadcast) gradient back down to <paramref name="shape"/>: the one place broadcasting is undone. The caller owns the result.</summary>
    internal Tensor SumToShape(int[] shape)
    {
        if (ShapeUtil.SameShape(ShapeArray, shape)) return Alias();
        int lead = Rank - shape.Length;
        var dims = new List<int>();
        for (int i = 0; i < Rank; i++)
            if (i < lead || (shape[i - lead] == 1 && ShapeArray[i] != 1)) dims.Add(i);
        return Composite(() => Sum([.. dims], keepDim: true).Reshape(shape));
    }

    /// <summary>Elementwise sum with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => ElementwiseBinary("Add", BinaryOp.Add, a, b, (g, x, y, _) => [x.RequiresGrad ? g : null, y.RequiresGrad ? g : null], saves: Saves.None);

    /// <summary>Elementwise difference with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => ElementwiseBinary("Sub", BinaryOp.Sub, a, b, (g, x, y, _) => [x.RequiresGrad ? g : null, y.RequiresGrad ? g.Neg() : null], saves: Saves.None);

    /// <summary>Elementwise product with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => ElementwiseBinary("Mul", BinaryOp.Mul, a, b, (g, x, y, _) => [x.RequiresGrad ? g * y : null, y.RequiresGrad ? g * x : null], saves: Saves.A | Saves.B);

    /// <summary>Elementwise quotient with broadcasting (integers are promoted to float32, as in PyTorch).</summary>
    public static Tensor operator /(Tensor a, Tensor b) => ElementwiseBinary("Div", BinaryOp.Div, a, b, (g, x, y, q) => [x.RequiresGrad ? g / y : null, y.RequiresGrad ? -(g * q / y) : null], floatingOnly: true);

    /// <summary>−x.</summary>
    public static Tensor operator -(Tensor a) => a.Neg();

    /// <summary>x + s.</summary>
    public static Tensor operator +(Tensor a, double s) => a.Affine(1, s);
    /// <summary>s + x.</summary>
    public static Tensor operator +(double s, Tensor a) => a.Affine(1, s);
    /// <summary>x − s.</summary>
    public static Tensor operator -(Tensor a, double s) => a.Affine(1, -s);
    /// <summary>s − x.</summary>
    public static Tensor operator -(double s, Tensor a) => a.Affine(-1, s);
    /// <summary>x · s.</summary>
    public static Tensor operator *(Tensor a, double s) => a.Affine(s, 0);
    /// <summary>s · x.</summary>
    public static Tensor operator *(double s, Tensor a) => a.Affine(s, 0);
    /// <summary>x / s (integers are promoted to float32).</summary>
    public static Tensor operator /(Tensor a, double s)
    {
        if (a.DType.IsFloating()) return a.Affine(1 / s, 0);
        return Composite(() => a.To(DType.Float32).Affine(1 / s, 0));
    }
    /// <summary>s / x (integers are promoted to float32).</summary>
    public static Tensor operator /(double s, Tensor a)
    {
        return a.DType.IsFloating()
            ? Composite(() => a.Reciprocal().Affine(s, 0))
            : Composite(() => s / a.To(DType.Float32));
    }
    /// <summary>x + s.</summary>
    public static Tensor operator +(Tensor a, float s) => a + (double)s;
    /// <summary>s + x.</summary>
    public static Tensor operator +(float s, Tensor a) => a + (double)s;
    /// <summary>x − s.</summary>
    public static Tensor operator -(Tensor a, float s) => a - (double)s;
    /// <summary>s − x.</summary>
    public static Tensor operator -(float s, Tensor a) => (double)s - a;
    /// <summary>x · s.</summary>
    public static Tensor operator *(Tensor a, float s) => a * (double)s;
    /// <summary>s · x.</summary>
    public static Tensor operator *(float s, Tensor a) => a * (double)s;
    /// <summary>x / s.</summary>
    public static Tensor operator /(Tensor a, float s) => a / (double)s;
    /// <summary>s / x.</summary>
    public static Tensor operator /(float s, Tensor a) => (double)s / a;

    /// <summary>Elementwise sum (same as <c>+</c>).</summary>
    public Tensor Add(Tensor other) => this + other;
    /// <summary>Elementwise difference (same as <c>-</c>).</summary>
    public Tensor Sub(Tensor other) => this - other;
    /// <summary>Elementwise product (same as <c>*</c>).</summary>
    public Tensor Mul(Tensor other) => this * other;
    /// <summary>Elementwise quotient (same as <c>/</c>).</summary>
    public Tensor Div(Tensor other) => this / other;

    /// <summary>Elementwise maximum; where a = b the gradient is split evenly, as in PyTorch.</summary>
    public static Tensor Maximum(Tensor a, Tensor b) => ElementwiseBinary("Maximum", BinaryOp.Maximum, a, b, (g, x, y, _) => ExtremumVjp(g, x, y));

    /// <summary>Elementwise minimum; where a = b the gradient is split evenly, as in PyTorch.</summary>
    public static Tensor Minimum(Tensor a, Tensor b) => ElementwiseBinary("Minimum", BinaryOp.Minimum, a, b, (g, x, y, _) => ExtremumVjp(g, y, x));

    // For max(winner, loser): the winner gets g where it is larger, half of g at ties. (A VJP: its
    // temporaries are freed when it returns.)
    private static Tensor?[] ExtremumVjp(Tensor g, Tensor first, Tensor second)
    {
        var half = first.Eq(second) * 0.5;
        var firstShare = first.Gt(second) + half;
        var secondShare = second.Gt(first) + half;
        return [first.RequiresGrad ? g * firstShare : null, second.RequiresGrad ? g * secondShare : null];
    }

    // ---- comparisons: masks of 1 and 0 in the promoted dtype; never recorded ----

    private Tensor Compare(string name, BinaryOp op, Tensor other) => ElementwiseBinary(name, op, this, other, vjp: null);

    private Tensor Compare(string name, BinaryOp op, double value)
    {
        var dtype = DType.IsFloating() || value != Math.Round(value) ? (DType.IsFloating() ? DType : DType.Float32) : DType.Int32;
        return Composite(() => ElementwiseBinary(name, op, this, Scalar(value, dtype, Device), vjp: null));
    }

    /// <summary>1 where this &gt; other, else 0.</summary>
    public Tensor Gt(Tensor other) => Compare("Gt", BinaryOp.Gt, other);
    /// <summary>1 where this ≥ other, else 0.</summary>
    public Tensor Ge(Tensor other) => Compare("Ge", BinaryOp.Ge, other);
    /// <summary>1 where this &lt; other, else 0.</summary>
    public Tensor Lt(Tensor other) => Compare("Lt", BinaryOp.Lt, other);
    /// <summary>1 where this ≤ other, else 0.</summary>
    public Tensor Le(Tensor other) => Compare("Le", BinaryOp.Le, other);
    /// <summary>1 where this = other, else 0.</summary>
    public Tensor Eq(Tensor other) => Compare("Eq", BinaryOp.Eq, other);
    /// <summary>1 where this ≠ other, else 0.</summary>
    public Tensor Ne(Tensor other) => Compare("Ne", BinaryOp.Ne, other);
    /// <summary>1 where this &gt; value, else 0.</summary>
    public Tensor Gt(double value) => Compare("Gt", BinaryOp.Gt, value);
    /// <summary>1 where this ≥ value, else 0.</summary>
    public Tensor Ge(double value) => Compare("Ge", BinaryOp.Ge, value);
    /// <summary>1 where this &lt; value, else 0.</summary>
    public Tensor Lt(double value) => Compare("Lt", BinaryOp.Lt, value);
    /// <summary>1 where this ≤ value, else 0.</summary>
    public Tensor Le(double value) => Compare("Le", BinaryOp.Le, value);
    /// <summary>1 where this = value, else 0.</summary>
    public Tensor Eq(double value) => Compare("Eq", BinaryOp.Eq, value);
    /// <summary>1 where this ≠ value, else 0.</summary>
    public Tensor Ne(double value) => Compare("Ne", BinaryOp.Ne, value);

    /// <summary>
    /// Picks <paramref name="a"/> where <paramref name="condition"/> is nonzero, else <paramref name="b"/>
    /// (all three broadcast together). Gradients flow to the chosen side only.
    /// </summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        condition.ThrowIfDisposed("Where");
        CheckSameDevice("Where", condition, a);
        CheckSameDevice("Where", a, b);
        var shape = ShapeUtil.BroadcastShape("Where", ShapeUtil.BroadcastShape("Where", condition.ShapeArray, a.ShapeArray), b.ShapeArray);
        var dtype = Promote(a.DType, b.DType);
        // Operands in the common dtype: the conversions are temporaries of this op.
        if (a.DType != dtype || b.DType != dtype)
            return Composite(() => Where(condition, a.To(dtype), b.To(dtype)));
        var (pa, pb) = (a, b);
        var y = Empty(shape, dtype, a.Device, "Where");
        if (y.NumElements > 0)
            a.Backend.Where(condition.BroadcastView("Where", shape), pa.BroadcastView("Where", shape), pb.BroadcastView("Where", shape), y.AsView());
        if (!WillRecord(pa, pb)) return y;
        var aShape = pa.ShapeArray;
        var bShape = pb.ShapeArray;
        var saved = new[] { pa.Saved(), pb.Saved(), condition.Saved() };
        return Record(y, "Where", [saved[0], saved[1]], g =>
        {
            var zero = ZerosLike(g);
            return [saved[0].RequiresGrad ? Where(saved[2], g, zero).SumToShape(aShape) : null,
                    saved[1].RequiresGrad ? Where(saved[2], zero, g).SumToShape(bShape) : null];
        }, saved);
    }

    /// <summary><see cref="Where(Tensor, Tensor, Tensor)"/> with a scalar for the false side.</summary>
    public static Tensor Where(Tensor condition, Tensor a, double b)
    {
        return Composite(() => Where(condition, a, Scalar(b, a.DType, a.Device)));
    }

    /// <summary><see cref="Where(Tensor, Tensor, Tensor)"/> with a scalar for the true side.</summary>
    public static Tensor Where(Tensor condition, double a, Tensor b)
    {
        return Composite(() => Where(condition, Scalar(a, b.DType, b.Device), b));
    }
}
