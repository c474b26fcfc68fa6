using Isola.Cli;

return await CliApp.RunAsync(args, CliConsole.System());
