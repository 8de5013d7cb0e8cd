using System.CommandLine;
using GpuNet.Cli;
using GpuNet.Cli.Commands;

// The gpunet tool: one line per command. Each command lives in Commands/<Name>Command.cs.
var root = new RootCommand("gpunet: a GPU tensor and autograd engine for .NET — train MLPs, evaluate them and classify images with them, run the lecture-note demos, benchmark, list devices.");
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(PredictCommand.Create());
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(DevicesCommand.Create());
root.Subcommands.Add(BenchCommand.Create());

return CommandLineHost.Run(root, args);
