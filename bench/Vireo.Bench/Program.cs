namespace Vireo.Bench;

internal static class Program
{
    public static int Main(string[] args)
    {
        Console.WriteLine("vireo bench: no benchmarks yet");
        return args.Length == 0 ? 0 : 1;
    }
}
