namespace GpuNet.Kernels.Managed;

/// <summary>
/// "Binary Add", "Unary Exp", … formatted once: every op call names itself for its checks' error
/// messages, and formatting an enum on each call cost a sizeable share of a small op.
/// </summary>
internal static class OpNames
{
    private static readonly string[] s_unary = Enum.GetValues<UnaryOp>().Select(o => $"Unary {o}").ToArray();
    private static readonly string[] s_binary = Enum.GetValues<BinaryOp>().Select(o => $"Binary {o}").ToArray();
    private static readonly string[] s_reduce = Enum.GetValues<ReduceOp>().Select(o => $"Reduce {o}").ToArray();

    public static string Of(UnaryOp op) => (uint)op < (uint)s_unary.Length ? s_unary[(int)op] : $"Unary {op}";
    public static string Of(BinaryOp op) => (uint)op < (uint)s_binary.Length ? s_binary[(int)op] : $"Binary {op}";
    public static string Of(ReduceOp op) => (uint)op < (uint)s_reduce.Length ? s_reduce[(int)op] : $"Reduce {op}";
}
