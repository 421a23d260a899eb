namespace Vireo.Bench;

internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "img")
        {
            return Images.ImageBench.RunAsync(args[1..]).GetAwaiter().GetResult();
        }

        if (args.Length > 0 && args[0] == "storage")
        {
            return Storage.StorageBench.RunAsync(args[1..]).GetAwaiter().GetResult();
        }

        if (args.Length > 0 && args[0] == "lifecycle")
        {
            return Lifecycle.LifecycleBench.RunAsync(args[1..]).GetAwaiter().GetResult();
        }

        if (args.Length > 0 && args[0] == "net")
        {
            return Net.NetBench.RunAsync(args[1..]).GetAwaiter().GetResult();
        }

        Console.WriteLine("usage: dotnet run --project bench/Vireo.Bench -c Release -- lifecycle|img|storage|net [options]");
        return args.Length == 0 ? 0 : 1;
    }
}
