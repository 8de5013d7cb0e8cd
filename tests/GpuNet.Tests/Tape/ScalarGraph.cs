using GpuNet.Tape;

namespace GpuNet.Tests.Tape;

/// <summary>A micrograd-sized value type for testing the tape engine alone, with plain doubles.</summary>
internal sealed class Num
{
    public Num(double value) => Value = value;

    public double Value { get; }

    public Node<Num>? Node { get; init; }

    public double? Grad { get; set; }

    public int FreedCount { get; set; }

    public static Num Leaf(double value, string name)
    {
        Num? self = null;
        var node = new LeafNode<Num>(name, g => self!.Grad = (self.Grad ?? 0) + g.Value);
        self = new Num(value) { Node = node };
        return self;
    }

    public static Num operator +(Num a, Num b) =>
        new(a.Value + b.Value) { Node = new FnNode("add", [a.Node, b.Node], g => [new Num(g.Value), new Num(g.Value)]) };

    public static Num operator *(Num a, Num b) =>
        new(a.Value * b.Value) { Node = new FnNode("mul", [a.Node, b.Node], g => [new Num(g.Value * b.Value), new Num(g.Value * a.Value)]) };

    public Num Exp()
    {
        double e = Math.Exp(Value);
        return new Num(e) { Node = new FnNode("exp", [Node], g => [new Num(g.Value * e)]) };
    }

    public Num Sin()
    {
        double c = Math.Cos(Value);
        return new Num(Math.Sin(Value)) { Node = new FnNode("sin", [Node], g => [new Num(g.Value * c)]) };
    }

    public Num Square()
    {
        double x = Value;
        return new Num(x * x) { Node = new FnNode("square", [Node], g => [new Num(g.Value * 2 * x)]) };
    }

    public override string ToString() => Value.ToString("G6");

    internal sealed class FnNode(string name, Node<Num>?[] inputs, Func<Num, Num?[]> backward) : Node<Num>(name, inputs)
    {
        public int Calls { get; private set; }

        public override Num?[] Backward(Num gradOutput)
        {
            Calls++;
            return backward(gradOutput);
        }
    }
}

/// <summary>Adds numbers and counts frees, so tests can check the engine frees every value it holds exactly once.</summary>
internal sealed class NumArithmetic : IGradientArithmetic<Num>
{
    public List<Num> Freed { get; } = [];

    public Num Add(Num a, Num b) => new(a.Value + b.Value);

    public void Free(Num value)
    {
        value.FreedCount++;
        Freed.Add(value);
    }
}
