using System.Reflection;

namespace Vireo.Cli;

internal static class Help
{
    public static string Version =>
        "vireo " + (typeof(Help).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0");

    public static void PrintOverview(TextWriter w)
    {
        w.WriteLine("vireo: define and run QEMU/KVM virtual machines from libvirt XML, with virsh's commands.");
        w.WriteLine();
        w.WriteLine("Usage: vireo COMMAND [ARGS...] [--json]");
        w.WriteLine("       vireo help COMMAND     show a command's arguments and flags");
        w.WriteLine("       vireo --version");
        w.WriteLine();
        w.WriteLine("State lives under $VIREO_ROOT (default /var/lib/vireo; runtime files in /run/vireo).");
        foreach (var group in CommandTable.All.GroupBy(c => c.Group))
        {
            w.WriteLine();
            w.WriteLine($" {group.Key}:");
            foreach (var c in group)
            {
                w.WriteLine($"    {c.Name,-22}{c.Summary}");
            }
        }
    }

    public static int PrintCommand(string? name, TextWriter stdout, TextWriter stderr)
    {
        if (name is null)
        {
            PrintOverview(stdout);
            return 0;
        }

        var spec = CommandTable.Find(name);
        if (spec is null)
        {
            stderr.WriteLine($"error: unknown command: '{name}'");
            return 1;
        }

        stdout.WriteLine("  NAME");
        stdout.WriteLine($"    {spec.Name} - {spec.Summary}");
        stdout.WriteLine();
        stdout.WriteLine("  SYNOPSIS");
        stdout.WriteLine($"    vireo {spec.Usage}");
        if (spec.Details is not null)
        {
            stdout.WriteLine();
            stdout.WriteLine("  DESCRIPTION");
            foreach (var line in spec.Details.Split('\n'))
            {
                stdout.WriteLine($"    {line}".TrimEnd());
            }
        }

        if (spec.Options.Count > 0)
        {
            stdout.WriteLine();
            stdout.WriteLine("  OPTIONS");
            foreach (var o in spec.Options)
            {
                string flag = o.TakesValue ? $"--{o.Name} <{o.Value}>" : $"--{o.Name}";
                stdout.WriteLine($"    {flag,-28}{o.Help}");
            }
        }

        stdout.WriteLine();
        return 0;
    }
}
