namespace GpuNet.Tests.TensorOps;

/// <summary>MatMul with PyTorch's rules (vectors, batches, broadcast batch dims, transposed and strided operands) against the reference.</summary>
public sealed class MatMulTests
{
    /// <param name="TransposeA">Pass A as the transpose view of a dense [.., k, m] tensor.</param>
    public sealed record Case(string Name, int[] A, int[] B, bool TransposeA = false, bool TransposeB = false);

    public static readonly Case[] Cases =
    [
        new("dot [3]x[3]", [3], [3]),
        new("vector-matrix [4]x[4,2]", [4], [4, 2]),
        new("matrix-vector [2,4]x[4]", [2, 4], [4]),
        new("matrix [3,4]x[4,5]", [3, 4], [4, 5]),
        new("1x1 [1,1]x[1,1]", [1, 1], [1, 1]),
        new("column [2,3]x[3,1]", [2, 3], [3, 1]),
        new("tiles [17,33]x[33,9]", [17, 33], [33, 9]),
        new("batched x matrix [2,3,4]x[4,5]", [2, 3, 4], [4, 5]),
        new("vector x batched [4]x[2,4,3]", [4], [2, 4, 3]),
        new("batched x vector [2,3,4]x[4]", [2, 3, 4], [4]),
        new("broadcast batch [2,1,3,4]x[3,4,2]", [2, 1, 3, 4], [3, 4, 2]),
        new("broadcast batch [1,3,4]x[5,4,2]", [1, 3, 4], [5, 4, 2]),
        new("A transposed [3,4]", [3, 4], [4, 2], TransposeA: true),
        new("B transposed [4,5]", [3, 4], [4, 5], TransposeB: true),
        new("both transposed batched", [2, 3, 4], [2, 4, 5], TransposeA: true, TransposeB: true),
        new("empty inner k=0 [2,0]x[0,3]", [2, 0], [0, 3]),
        new("empty rows [0,3]x[3,2]", [0, 3], [3, 2]),
        new("empty batch [0,2,3]x[3,4]", [0, 2, 3], [3, 4]),
    ];

    public static TheoryData<string, string> MatMulCases => Devices.Cross(Cases.Select(c => c.Name));

    private static (Tensor, Ref) Operand(Random rng, int[] shape, bool transposed, DType dtype, Device dev, Layout layout)
    {
        var values = Gen.Values(rng, shape, Gen.Uniform(-1, 1));
        if (!transposed || shape.Length < 2) return Host.Arrange(values, dtype, dev, layout, rng);
        // Store the transpose densely and view it back: the kernel sees swapped strides.
        var stored = Host.Round(values, dtype).Transpose(shape.Length - 2, shape.Length - 1);
        using var dense = Host.Make(stored, dtype, dev);
        return (dense.Transpose(-1, -2), stored.Transpose(shape.Length - 2, shape.Length - 1));
    }

    [Theory, MemberData(nameof(MatMulCases))]
    public void MatMul_MatchesReference_ForEveryOperandForm(string device, string name)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        var c = Cases.Single(x => x.Name == name);
        var rng = new Random(ElementwiseTests.Seed(name));
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            foreach (var layout in new[] { Layout.Contiguous, Layout.Narrowed, Layout.Permuted })
            {
                var (a, ra) = Operand(rng, c.A, c.TransposeA, dtype, dev, layout);
                var (b, rb) = Operand(rng, c.B, c.TransposeB, dtype, dev, layout == Layout.Permuted ? Layout.Contiguous : layout);
                using (a)
                using (b)
                using (var y = a.MatMul(b))
                {
                    int k = c.A[^1];
                    double atol = dtype == DType.Float32 ? 2e-6 * (k + 1) : 1e-13 * (k + 1);
                    Host.AssertClose(Ref.MatMul(ra, rb), y, $"MatMul {name} on {device} with {Host.Describe(a)} x {Host.Describe(b)}", dtype, atol, dtype == DType.Float32 ? 1e-5 : 1e-11);
                }
            }
    }

    [Theory, MemberData(nameof(Devices.All), MemberType = typeof(Devices))]
    public void MatMul_OfSmallIntegers_IsExact(string device)
    {
        using var scope = Tensor.NewScope();
        var dev = Devices.Get(device);
        using var a = Tensor.FromArray(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } }, dev);
        using var b = Tensor.FromArray(new float[,] { { 7, 8 }, { 9, 10 }, { 11, 12 } }, dev);
        using var y = a.MatMul(b);
        Assert.Equal(new[] { 2, 2 }, y.Shape);
        Assert.Equal(new float[] { 58, 64, 139, 154 }, y.ToArray());
        using var at = a.T;
        using var gram = at.MatMul(a);
        Assert.Equal(new float[] { 17, 22, 27, 22, 29, 36, 27, 36, 45 }, gram.ToArray());
    }
}
