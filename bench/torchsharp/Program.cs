using TorchSharp;
using static TorchSharp.torch;
torch.set_num_threads(Environment.ProcessorCount);
var a = torch.rand(3, 3);
Console.WriteLine($"{torch.get_num_threads()} {a.sum().item<float>()} {torch.__version__}");
