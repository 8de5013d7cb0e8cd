using GpuNet.Lessons.Neurons;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GpuNet.Nn;
using GpuNet.Lessons;

namespace GpuNet.Cli.Commands;

/// <summary>
/// <c>gpunet demo NAME</c>: the lecture notes as runnable lessons. The computations live in
/// <c>GpuNet.Lessons</c> and return result records; this class prints them and
/// <see cref="LessonPlots"/> draws them.
/// </summary>
internal static class DemoCommand
{
    /// <summary>What a lesson gets from the command line.</summary>
    private sealed record DemoArgs(PlotTarget? Plot, long? Seed);

    /// <summary>One lesson: its name, what it shows, the pictures it draws, and how to print (and plot) it.</summary>
    private sealed record Demo(string Name, string Summary, string[] Pictures, Action<DemoArgs> Run);

    private static readonly Demo[] Demos =
    [
        new("mp-neuron", "McCulloch-Pitts threshold logic: AND, OR, NOT, NOR, majority; no single neuron computes XOR", [], McCullochPitts),
        new("perceptron", "the notes' perceptron experiment on two Gaussians, and the (R/gamma)^2 convergence bound", ["perceptron.png"], Perceptron),
        new("xor", "XOR: the perceptron cycles, a feature map fixes it, 2^n hidden perceptrons do any boolean function, an MLP learns it", ["xor.png"], Xor),
        new("universal-approximation", "one hidden sigmoid layer: error falls with width (trained) and with towers (built by hand)", ["universal-approximation.png"], UniversalApproximation),
        new("gradient-descent", "batch vs stochastic vs mini-batch gradient descent, and a learning rate that is too large", ["gradient-descent.png", "gradient-descent-lr.png"], GradientDescent),
        new("losses", "squared, 0-1, NLL, multi-class hinge, softmax cross-entropy, L2: values and gradients on worked examples", [], LossesDemo),
        new("backprop", "the chain rule over a graph with numbers; the softmax Jacobian; a chain of Jacobians vs one backward pass", [], Backprop),
        new("gradcheck", "finite differences vs backprop on an MLP in float64: errors per parameter, cost, the step size", ["gradcheck.png"], GradCheck),
    ];

    /// <summary>Names of the lessons, in order.</summary>
    public static IEnumerable<string> Names => Demos.Select(d => d.Name);

    public static Command Create()
    {
        var name = new Argument<string?>("name")
        {
            Description = "The lesson to run; omit to list them.",
            Arity = ArgumentArity.ZeroOrOne,
            HelpName = string.Join("|", Names),
        };
        name.AcceptOnlyFromAmong([.. Names]);
        var plot = new Option<string?>("--plot") { Description = $"Where the lesson's pictures go: {PlotTarget.Help}. Lessons that draw nothing say so.", HelpName = "PATH" };
        var seed = CliOptions.OptionalLong("--seed", "Seed for the lesson's random data or weights (each lesson has a default).");
        var command = new Command("demo", "The lecture notes as runnable lessons: 'gpunet demo' lists them, 'gpunet demo NAME' runs one.") { name, plot, seed };
        command.SetAction(parse =>
        {
            var chosen = parse.GetValue(name);
            if (string.IsNullOrWhiteSpace(chosen))
            {
                Console.WriteLine("Lessons (run one with: gpunet demo NAME [--plot FILE.png|DIR] [--seed N]):");
                foreach (var d in Demos) Console.WriteLine($"  {d.Name,-24} {d.Summary}");
                return 0;
            }
            var demo = Demos.First(d => d.Name == chosen);
            try
            {
                CliDevice.Resolve(null, hasDeviceOption: false); // the lessons run on the default device: a bad GPUNET_DEVICE is reported here, naming it
            }
            catch (ArgumentException e)
            {
                return CommandLineHost.Usage(e.Message);
            }
            PlotTarget? target = null;
            if (parse.GetValue(plot) is { } plotPath)
            {
                if (string.IsNullOrWhiteSpace(plotPath)) return CommandLineHost.Usage("--plot: the path is empty; expected a .png file or a folder.");
                if (demo.Pictures.Length == 0)
                    Console.Error.WriteLine($"note: the {demo.Name} lesson draws no pictures; --plot {plotPath} is ignored.");
                else
                {
                    target = new PlotTarget(plotPath, demo.Pictures);
                    try
                    {
                        target.Check();
                    }
                    catch (IOException e)
                    {
                        return CommandLineHost.Usage($"--plot: {e.Message}");
                    }
                }
            }
            var previous = CultureInfo.CurrentCulture;
            CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
            try
            {
                var sw = Stopwatch.StartNew();
                demo.Run(new DemoArgs(target, parse.GetValue(seed)));
                Console.WriteLine($"({demo.Name}: {sw.Elapsed.TotalSeconds:0.0} s on {Device.Default})");
            }
            finally
            {
                CultureInfo.CurrentCulture = previous;
            }
            return 0;
        });
        return command;
    }

    private static void Line(string text = "") => Console.WriteLine(text);

    private static void Heading(string text)
    {
        Line();
        Line(text);
    }

    private static void Wrote(string path) => Line($"wrote {path}");

    private static string Vec(IEnumerable<double> v, string format = "0.###") => "(" + string.Join(", ", v.Select(x => Num(x, format))) + ")";

    // Fixed-point, without "-0".
    private static string Num(double x, string format = "0.###")
    {
        var s = x.ToString(format);
        return s.TrimStart('-').All(c => c is '0' or '.') ? s.TrimStart('-') : s;
    }

    private static string Row(IEnumerable<double> v, int width = 8, string format = "0.0000") =>
        string.Concat(v.Select(x => Num(x, format).PadLeft(width)));

    private static string Bits(IEnumerable<bool> table) => BooleanFunctions.Bits(table);

    // ---- mp-neuron ----

    private static void McCullochPitts(DemoArgs args)
    {
        var r = McCullochPittsLesson.Run();
        Line("McCulloch-Pitts neuron: boolean inputs, threshold theta. It fires (1) when no inhibitory input is on");
        Line("and at least theta excitatory inputs are. No weights, no learning. Wiring: E excitatory, I inhibitory, - unconnected.");
        foreach (var g in r.Gates)
        {
            Heading($"{g.Name}: {g.Neuron}   {(g.Reproduced ? "truth table reproduced" : "MISMATCH")}");
            int n = g.Neuron.Inputs;
            Line("  " + string.Join(" ", Enumerable.Range(1, n).Select(i => $"x{i}")) + " | y");
            for (int k = 0; k < g.Output.Length; k++)
                Line("  " + string.Join("  ", Enumerable.Range(0, n).Select(j => (k >> (n - 1 - j)) & 1)) + "  | " + (g.Output[k] ? 1 : 0));
        }
        Heading($"Exhaustive search: all {r.NeuronsSearched} two-input neurons (theta 0..3, each input E, I or -).");
        Line($"They compute {r.Realisable.Count} of the 16 boolean functions of two inputs (table over x1x2 = 00,01,10,11):");
        foreach (var (f, neuron) in r.Realisable)
            Line($"  {Bits(BooleanFunctions.Table(f, 2))}  {BooleanFunctions.Name(f),-15} e.g. {neuron}");
        var missing = Enumerable.Range(0, 16).Where(f => !r.Realisable.ContainsKey(f)).Select(f => $"{BooleanFunctions.Name(f)} ({Bits(BooleanFunctions.Table(f, 2))})");
        Line($"Never computed: {string.Join(", ", missing)}.");
        Line($"XOR by a single MP neuron: {(r.XorRealisable ? "found" : "impossible")} - it is not linearly separable; it needs a second layer (see: gpunet demo xor).");
    }

    // ---- perceptron ----

    private static void Perceptron(DemoArgs args)
    {
        var o = new PerceptronLessonOptions();
        if (args.Seed is { } s) o = o with { Seed = s };
        var r = PerceptronLesson.Run(o);
        Line($"Perceptron learning rule on the notes' data (seed {o.Seed}): {o.PerClass} points from N(0,1) labelled +1 and {o.PerClass} from N({o.Mean},1) labelled -1,");
        Line($"interleaved, with a bias column of ones: X is {r.Points.Length}x3. Start from w = 0; each epoch visits the points in order");
        Line("and on every mistake (y_i w.x_i <= 0) applies w <- w + y_i x_i. Stop after an epoch with no change.");
        foreach (var e in r.Epochs)
            Line($"  epoch {e.Epoch,3}: {e.Changes,3} changes   w = {Vec(e.Weight, "0.000")}");
        Line(r.Converged
            ? $"Converged after {r.Epochs.Count} epochs ({r.Updates} updates): {r.TrainingMistakes} training mistakes."
            : $"Not converged after {r.Epochs.Count} epochs ({r.Updates} updates): {r.TrainingMistakes} points still misclassified (this draw is not linearly separable).");
        Line($"Final w = {Vec(r.Weight, "0.000")}: boundary {Num(r.Weight[0], "0.000")}*x1 + {Num(r.Weight[1], "0.000")}*x2 + {Num(r.Weight[2], "0.000")} = 0.");
        Line($"(The mistakes were found with {r.MarginPasses} batched margin products y * (X w), one per update and one per epoch; updates stay sequential.)");
        Heading("Convergence theorem: if a unit vector u has margin gamma = min_i y_i u.x_i > 0, the rule makes at most (R/gamma)^2 updates, R = max_i ||x_i||.");
        Line($"  R = {r.R:0.000} (ones column included)");
        Line($"  u = w/||w||, the learned direction:           gamma = {Num(r.GammaFinal, "0.0000")}   bound = {Bound(r.BoundFinal)}");
        Line($"  u = best of {r.DirectionsSearched:N0} searched directions: gamma = {Num(r.GammaSearch, "0.0000")}   bound = {Bound(r.BoundSearch)}");
        Line("  (the search's gamma is a lower bound on the best margin, so its bound is valid, and the tighter of the two)");
        if (r.GammaSearch > 0)
            Line($"  {r.Updates} updates <= {Bound(r.BoundSearch)}: {(r.Updates <= r.BoundSearch ? "within the bound" : "BOUND VIOLATED")}.");
        else
            Line("  No separating direction found: the theorem promises nothing, and the rule never stops.");
        if (args.Plot is { } target) Wrote(LessonPlots.Perceptron(r, target));
    }

    private static string Bound(double b) => double.IsInfinity(b) ? "none (gamma <= 0)" : b.ToString("N0");

    // ---- xor ----

    private static void Xor(DemoArgs args)
    {
        var o = new XorLessonOptions();
        if (args.Seed is { } s) o = o with { Seed = s };
        var r = XorLesson.Run(o);
        Line("1. A single perceptron on XOR (inputs x1, x2 in {0,1} plus a ones column; labels -1, +1, +1, -1).");
        Line("   First epoch, update by update: " + string.Join("  ", r.FirstEpochUpdates.Select(u => $"x{Pattern(u.Point)} -> w = {Vec(u.Weight, "0")}")));
        foreach (var e in r.XorEpochs.Take(3))
            Line($"   epoch {e.Epoch,2}: {e.Changes} mistakes, w = {Vec(e.Weight, "0")}");
        if (r.XorEpochs.Count > 3)
            Line($"   ... epochs 4-{r.XorEpochs.Count}: mistakes {string.Join(" ", r.XorEpochs.Skip(3).Select(e => e.Changes))}, w at the end of each: {string.Join(" ", r.XorEpochs.Skip(3).Select(e => Vec(e.Weight, "0")).Distinct())}");
        Line(r.XorConverged ? "   converged (unexpected!)" :
            $"   Never converges: mistakes in every one of {r.XorEpochs.Count} epochs" +
            (r.CyclePeriod > 0 ? $", and w after epoch {r.CycleStart + r.CyclePeriod} equals w after epoch {r.CycleStart}: the weights cycle with period {r.CyclePeriod} epoch(s)." : "."));
        Heading("2. Feature map phi(x1, x2) = (x1, x2, x1*x2) (plus the ones column): XOR becomes linearly separable.");
        var last = r.FeatureEpochs[^1];
        Line($"   mistakes per epoch: {string.Join(" ", r.FeatureEpochs.Select(e => e.Changes))}");
        Line($"   {(r.FeatureConverged ? "converged" : "not converged")} after {r.FeatureEpochs.Count} epochs, w = {Vec(last.Weight, "0")} on (x1, x2, x1x2, 1); outputs on 00,01,10,11: {string.Join("", r.FeaturePredictions)}");
        Heading("3. One hidden layer of 2^n perceptrons represents any boolean function of n inputs: hidden unit k fires only on");
        Line("   input pattern k (weights +1/-1, bias 1/2 - |p|), the output perceptron ORs the units where f = 1.");
        Line("   f#  table  network  function");
        foreach (var c in r.TwoInputFunctions)
            Line($"   {c.Number,2}  {Bits(c.Table)}   {Bits(c.Network)}     {c.Name,-15} {(c.Reproduced ? "ok" : "MISMATCH")}");
        Line($"   {r.TwoInputFunctions.Count(c => c.Reproduced)} of 16 two-input truth tables reproduced (4 hidden units each)" +
             (r.ThreeInputFunctions > 0 ? $"; {r.ThreeInputReproduced} of {r.ThreeInputFunctions} three-input ones (8 hidden units each)." : "."));
        Heading($"4. A sigmoid MLP {string.Join("-", r.MlpSizes)} trained by backprop (Adam, lr {o.LearningRate}, {o.Steps} full-batch steps, BCE with logits, seed {o.Seed}):");
        Line($"   loss {r.MlpLoss[0]:0.0000} -> {r.MlpLoss[Math.Min(99, r.MlpLoss.Length - 1)]:0.0000} (step 100) -> {r.MlpLoss[^1]:0.0000} (step {r.MlpLoss.Length})");
        Line($"   P(y=1) on 00, 01, 10, 11: {string.Join("  ", r.MlpProbabilities.Select(p => p.ToString("0.000")))}  ->  {(r.MlpSolved ? "XOR solved" : "not solved (a local minimum; try another --seed)")}");
        if (args.Plot is { } target) Wrote(LessonPlots.Xor(r, target));
    }

    private static string Pattern(int k) => $"{(k >> 1) & 1}{k & 1}";

    // ---- universal-approximation ----

    private static void UniversalApproximation(DemoArgs args)
    {
        var o = new UniversalApproximationOptions();
        if (args.Seed is { } s) o = o with { Seed = s };
        var r = UniversalApproximationLesson.Run(o);
        Line($"Target on [0,1]: f(x) = sin(2 pi x) + exp(-(x - {UniversalApproximationLesson.BumpCentre})^2 / (2*{UniversalApproximationLesson.BumpWidth}^2)), errors measured at {r.X.Length} points.");
        Heading($"Trained: one hidden layer of sigmoids, 1-H-1, Adam (lr {o.LearningRate}, cosine-annealed) for {o.Steps} full-batch steps on {o.TrainPoints} points, MSE;");
        Line($"the hidden sigmoids start spread evenly over [0,1] with slope {o.InitialSlope}*H, the output weights at random (seed {o.Seed}).");
        Line("      H   max error   rms error");
        foreach (var a in r.Trained) Line($"  {a.Units,5}   {a.MaxError,9:0.0000}   {a.RmsError,9:0.0000}");
        Heading($"Built by hand, no training: K towers sigma(s(x - k/K)) - sigma(s(x - (k+1)/K)) of height f(centre), s = {o.Steepness}*K (2K hidden sigmoids).");
        Line("      K   max error   rms error");
        foreach (var a in r.Towers) Line($"  {a.Units,5}   {a.MaxError,9:0.0000}   {a.RmsError,9:0.0000}");
        Line($"More units, smaller error: max error {r.Trained[0].MaxError:0.000} -> {r.Trained[^1].MaxError:0.000} (width {r.Trained[0].Units} -> {r.Trained[^1].Units}) trained, " +
             $"{r.Towers[0].MaxError:0.000} -> {r.Towers[^1].MaxError:0.000} ({r.Towers[0].Units} -> {r.Towers[^1].Units} towers) by construction.");
        if (args.Plot is { } target) Wrote(LessonPlots.UniversalApproximation(r, target));
    }

    // ---- gradient-descent ----

    private static void GradientDescent(DemoArgs args)
    {
        var o = new GradientDescentOptions();
        if (args.Seed is { } s) o = o with { Seed = s };
        var r = GradientDescentLesson.Run(o);
        Line($"Logistic regression (Linear 2->1, BCE with logits) on the two Gaussians ({r.Samples} points, seed {o.Seed}), plain SGD optimizer, lr {o.LearningRate}, {o.Epochs} epochs,");
        Line("the same initial weights for each method. Loss is the full-data loss, measured after every update.");
        Line($"  {"method",-15} {"batch",5} {"updates/epoch",13} {"updates",8} {"loss ep 1",10} {"loss ep " + o.Epochs,10} {"accuracy",9} {"loss went up",13}");
        foreach (var run in r.Runs)
            Line($"  {run.Method,-15} {run.BatchSize,5} {run.UpdatesPerEpoch,13} {run.LossPerUpdate.Length - 1,8} {run.LossPerEpoch[1],10:0.0000} {run.LossPerEpoch[^1],10:0.0000} {run.Accuracy,9:0.000} {run.LossIncreases,6} times");
        Line("Per epoch SGD gets furthest (most updates), batch GD the least; per update batch GD is the smoothest, SGD the noisiest.");
        Heading("Too large a learning rate, on the least-squares version (L(w) = mean (x_i.w - y_i)^2, a quadratic):");
        Line($"  Hessian (Autograd.Hessian) = [{string.Join("; ", Enumerable.Range(0, 3).Select(i => Row(Enumerable.Range(0, 3).Select(j => r.Hessian[i, j]), 7, "0.00")))} ]");
        Line($"  lambda_max = {r.LambdaMax:0.000}; gradient descent converges only for lr < 2/lambda_max = {r.CriticalRate:0.0000}.");
        int[] show = [0, 1, 2, 3, 5, 10, 20, 50];
        show = show.Where(i => i < r.Rates[0].Loss.Length).ToArray();
        Line($"  {"lr",-22} " + string.Concat(show.Select(i => $"{"step " + i,11}")));
        static string Label(RateRun q) => $"{q.LearningRate:0.0000} ({q.Factor} x 2/lmax)".PadRight(22);
        foreach (var q in r.Rates)
            Line($"  {Label(q)} " + string.Concat(show.Select(i => $"{q.Loss[i],11:G4}")));
        Line("  component of (w - w*) along the top eigenvector, steps 0..5:");
        foreach (var q in r.Rates)
            Line($"  {Label(q)} " + string.Concat(q.TopComponent.Take(6).Select(v => $"{v,9:0.0000}")) +
                 $"   ratio {q.TopComponent[1] / q.TopComponent[0]:0.00} per step (1 - lr*lambda_max = {1 - q.LearningRate * r.LambdaMax:0.00})");
        Line("  Below 1/lambda_max the error shrinks monotonically; between 1/lambda_max and 2/lambda_max it flips sign every step (oscillates) but shrinks;");
        Line("  above 2/lambda_max each step multiplies it by more than 1 in size: the loss diverges.");
        if (args.Plot is { } target)
        {
            Wrote(LessonPlots.GradientDescent(r, target));
            Wrote(LessonPlots.LearningRates(r, target));
        }
    }

    // ---- losses ----

    private static void LossesDemo(DemoArgs args)
    {
        var r = LossesLesson.Run();
        var q = r.Squared;
        Line("Empirical risk: R(f) = (1/N) sum_i l(f, z_i) - the mean of per-sample losses, which is each Nn loss's default (Reduction.Mean).");
        Heading("Squared loss (regression), l = (f(x) - y)^2, MSELoss:");
        Line($"  f(x) = {Vec(q.Predictions, "0.0")}, y = {Vec(q.Targets, "0.0")}");
        Line($"  per sample {Vec(q.PerSample, "0.00")}  ->  R = {q.Risk:0.000};  dR/df = 2(f - y)/N = {Vec(q.Gradient, "0.000")} (autograd)");
        var c = r.Classifier;
        Heading("Classification: scores s = f(x) of three samples over classes (cat, car, frog):");
        for (int i = 0; i < c.Scores.Length; i++)
            Line($"  sample {i + 1}: s = {Vec(c.Scores[i], "0.0")}, label {c.Classes[c.Labels[i]]}, predicted {c.Classes[c.Predicted[i]]}");
        Heading($"0-1 loss, l = 1[argmax s != y] (Metrics.ZeroOneLoss): R = {c.ZeroOneRisk:0.000}; nudging every score by ~1e-3 gives {c.ZeroOneRiskNudged:0.000} -");
        Line("  piecewise constant, so its gradient is zero almost everywhere: nothing to descend. Hence the surrogate losses below.");
        Heading("Multi-class hinge (HingeLoss), L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + 1):");
        for (int i = 0; i < c.Scores.Length; i++)
            Line($"  L_{i + 1} = {c.HingePerSample[i]:0.00}   dL_{i + 1}/ds autograd {Vec(c.HingeGradient[i], "0")}   by hand {Vec(c.HingeGradientByHand[i], "0")}");
        Line($"  R = ({string.Join(" + ", c.HingePerSample.Select(v => v.ToString("0.0")))}) / 3 = {c.HingeRisk:0.00}");
        Line("  by hand: dL/ds_j = 1[s_j - s_y + 1 > 0] for j != y, and dL/ds_y = -(number of such j).");
        Heading("Softmax cross-entropy (CrossEntropyLoss), L_i = -log softmax(s_i)[y_i]; the same as NLLLoss on log-softmax scores:");
        for (int i = 0; i < c.Scores.Length; i++)
            Line($"  p_{i + 1} = {Vec(c.Probabilities[i], "0.000")}  L_{i + 1} = {c.CrossEntropyPerSample[i]:0.0000} (NLL {c.NllPerSample[i]:0.0000})  dL/ds = {Vec(c.CrossEntropyGradient[i], "0.000")}, p - onehot = {Vec(c.CrossEntropyGradientByHand[i], "0.000")}");
        Line($"  R = {c.CrossEntropyRisk:0.0000}. Negative log-likelihood is also the density-estimation loss l = -log p(z).");
        var g = r.Regularised;
        Heading($"Hinge + L2 regularisation on a linear classifier s = W x (3 classes, 4 features, label {g.Label}, lambda = {g.Lambda}):");
        Line($"  x = {Vec(g.X, "0.00")},  s = {Vec(g.Scores, "0.0000")}");
        Line($"  data loss {g.DataLoss:0.0000} + lambda*||W||^2 = {g.Penalty:0.0000} (Losses.L2Penalty)  ->  {g.DataLoss + g.Penalty:0.0000}");
        Line("  dL/dW: autograd                        by hand: 1[s_j - s_y + 1 > 0] x for j != y, -(count) x for y, + 2 lambda W");
        for (int j = 0; j < g.W.Length; j++)
            Line($"  {Row(g.Gradient[j], 7, "0.000")}        {Row(g.GradientByHand[j], 7, "0.000")}");
        Line($"Largest |autograd - hand formula| over all gradients above: {r.MaxGradientDifference:G2}.");
    }

    // ---- backprop ----

    private static void Backprop(DemoArgs args)
    {
        var r = BackpropLesson.Run();
        Line("Backprop = the chain rule, applied node by node from the output back. Per node: forward value, then dL/dnode.");
        Heading("f(x) = e^{sin(x^2)} at x = 1.5:");
        Nodes(r.ChainRule);
        Line($"  by hand: df/dx = e^(sin x^2) cos(x^2) 2x = {r.ChainRuleByHand:0.000000}");
        Heading("The worked graph: g = x*y, f = g + z, L = f^2 at x = -2, y = 3, z = 5. dL/df = 2f = -2 arrives at f and flows back:");
        Nodes(r.WorkedGraph);
        Line("  (+ passes the gradient unchanged to g and z; * sends each input the other input times it: dL/dx = -2*y = -6, dL/dy = -2*x = 4)");
        Heading("A node reached by two paths: x1 = w1*x0, x2 = w2*x0*x1, x3 = w3*x1 + x2, L = x3^2 (the notes' x1 feeds x2 and x3):");
        Nodes(r.FanOut);
        var (viaX3, viaX2, sum) = r.FanOutPaths;
        Line($"  dL/dx1 = J(phi3, x1)^T dL/dx3 + J(phi2, x1)^T dL/dx2 = {viaX3:0.###} + ({viaX2:0.###}) = {sum:0.###}: the gradients of the two paths add up.");
        Heading($"Softmax Jacobian at s = {Vec(r.SoftmaxInput, "0.0")}: Autograd.Jacobian            formula p_i (delta_ij - p_j)");
        for (int i = 0; i < r.SoftmaxJacobian.Length; i++)
            Line($"  {Row(r.SoftmaxJacobian[i], 9)}      {Row(r.SoftmaxJacobianByHand[i], 9)}");
        Line($"  largest difference {r.SoftmaxDifference:G2}. Off the diagonal it is not zero: each output depends on every input.");
        Heading("A chain of Jacobians: L(x) = f4(f3(f2(f1(x)))), f1 = Linear(3,4), f2 = sigmoid, f3 = Linear(4,2), f4 = 0.5*||y||^2:");
        foreach (var st in r.Stages)
        {
            Line($"  {st.Name}  [{st.Matrix.Length}x{st.Matrix[0].Length}]");
            foreach (var row in st.Matrix) Line("   " + Row(row, 9));
        }
        Line($"  J_f4 J_f3 J_f2 J_f1 (MatMul) = {Vec(r.ChainProduct, "0.000000")}");
        Line($"  backprop, one backward pass  = {Vec(r.BackpropGradient, "0.000000")}   (largest difference {r.ChainDifference:G2})");
        Line($"  Backprop multiplies from the output end, a row vector at a time: {r.ReverseOrderCost} multiply-adds; from the input end: {r.ForwardOrderCost}.");
    }

    private static void Nodes(IEnumerable<GraphNode> nodes)
    {
        foreach (var n in nodes) Line($"  {n.Name,-18} value {Num(n.Value, "0.000000"),10}    dL/d = {Num(n.Gradient, "0.000000"),10}");
    }

    // ---- gradcheck ----

    private static void GradCheck(DemoArgs args)
    {
        var o = new GradCheckOptions();
        if (args.Seed is { } s) o = o with { Seed = s };
        var r = GradCheckLesson.Run(o);
        Line($"MLP {string.Join("-", r.Sizes)} (tanh) in float64, cross-entropy on a batch of {o.Batch}: {r.ParameterCount} parameters.");
        Line("Numerical gradient: central differences (L(theta + eps) - L(theta - eps)) / 2 eps, eps = 1e-6, one parameter at a time.");
        Line("Analytical gradient: backprop. Autograd.GradCheckReport compares them element by element:");
        Line($"  {"parameter",-16} {"shape",-8} {"max abs error",14} {"max rel error",14}");
        foreach (var c in r.Checks)
            Line($"  {c.Name,-16} {"[" + string.Join("x", c.Shape) + "]",-8} {c.MaxAbsoluteError,14:0.00E+00} {c.MaxRelativeError,14:0.00E+00}  {(c.Passed ? "ok" : "FAILED")}");
        Line($"Autograd.GradCheck: {(r.Passed ? "passed" : "FAILED")}.");
        Heading($"Cost: the numerical gradient took {r.ForwardPasses} forward passes (2 per parameter) in {r.NumericalSeconds * 1000:0.0} ms;");
        Line($"backprop gives all {r.ParameterCount} in one forward + one backward pass: {r.BackpropSeconds * 1000:0.00} ms ({r.NumericalSeconds / r.BackpropSeconds:0}x faster here, and the gap grows with the parameter count).");
        Heading("The step size: worst relative error against eps (too large: truncation error; too small: rounding error):");
        foreach (var e in r.EpsSweep) Line($"  eps {e.Eps,7:0E+0}   {e.MaxRelativeError:0.0E+00}");
        Line($"In float32 (eps 1e-3) the worst absolute error is {r.Float32AbsoluteError:0.0E+00} against {r.MaxAbsoluteError:0.0E+00} in float64 (worst relative {r.Float32RelativeError:0.0E+00}): gradient checks run in float64.");
        if (args.Plot is { } target) Wrote(LessonPlots.GradCheck(r, target));
    }
}
