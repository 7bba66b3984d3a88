using Capstan.Server.Hosting;

return await CapstanCommands.RunAsync(args);
