using System.Globalization;
using Vireo.Engine;
using Vireo.Engine.Domains;
using Vireo.Model;

namespace Vireo.Cli.Commands;

/// <summary>Domain lifecycle and inspection commands, with virsh's names, flags and output.</summary>
internal static partial class DomainCommands
{
    public const string Group = "Domain management";

    private static readonly OptionSpec DomainOpt = new("domain", "domain name, id or uuid", "domain");
    private static readonly OptionSpec FileOpt = new("file", "file containing an XML domain description", "file");
    private static readonly OptionSpec JsonOpt = new("json", "print JSON instead of text");

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
        new("define", Group, "define (but don't start) a domain from an XML file", "define <file>",
            [FileOpt], Define),
        new("undefine", Group, "undefine a domain", "undefine <domain>", [DomainOpt], Undefine),
        new("create", Group, "create (start) a transient domain from an XML file", "create <file> [--paused] [--console]",
            [FileOpt, new("paused", "leave the guest paused after creation"), new("console", "attach to the console after creation")], Create),
        new("start", Group, "start a (previously defined) inactive domain", "start <domain> [--paused] [--console]",
            [DomainOpt, new("paused", "leave the guest paused after start"), new("console", "attach to the console after start")], Start),
        new("shutdown", Group, "gracefully shut down a domain (ACPI power button; returns at once)", "shutdown <domain>",
            [DomainOpt, new("mode", "shutdown mode: acpi (the only one supported)", "mode")], Shutdown),
        new("destroy", Group, "destroy (stop) a domain", "destroy <domain> [--graceful]",
            [DomainOpt, new("graceful", "terminate gracefully (SIGTERM only, no SIGKILL)")], Destroy),
        new("reboot", Group, "reboot a domain (ACPI power button, then reset)", "reboot <domain>",
            [DomainOpt, new("mode", "reboot mode: acpi (the only one supported)", "mode")], Reboot),
        new("reset", Group, "reset a domain (like pressing the reset button)", "reset <domain>", [DomainOpt], Reset),
        new("suspend", Group, "suspend a domain (pause its vCPUs)", "suspend <domain>", [DomainOpt], Suspend),
        new("resume", Group, "resume a suspended domain", "resume <domain>", [DomainOpt], Resume),
        new("list", Group, "list domains", "list [--all] [--inactive] [--name] [--uuid] [--state-running] ... [--json]",
            [
                new("all", "list active and inactive domains"),
                new("inactive", "list inactive domains"),
                new("name", "list domain names only"),
                new("uuid", "list uuids only"),
                new("id", "list ids only"),
                new("table", "list as a table (default)"),
                new("title", "show domain titles"),
                new("persistent", "list persistent domains"),
                new("transient", "list transient domains"),
                new("autostart", "list domains with autostart enabled"),
                new("no-autostart", "list domains with autostart disabled"),
                new("state-running", "list domains in running state"),
                new("state-paused", "list domains in paused state"),
                new("state-shutoff", "list domains in shutoff state"),
                new("state-other", "list domains in other states"),
                JsonOpt,
            ], ListDomains),
        new("dominfo", Group, "domain information", "dominfo <domain> [--json]", [DomainOpt, JsonOpt], DomInfo),
        new("domstate", Group, "domain state", "domstate <domain> [--reason] [--json]",
            [DomainOpt, new("reason", "also print the reason for the state"), JsonOpt], DomState),
        new("domid", Group, "convert a domain name or uuid to its id", "domid <domain>", [DomainOpt], DomId),
        new("domuuid", Group, "convert a domain name or id to its uuid", "domuuid <domain>", [DomainOpt], DomUuid),
        new("domname", Group, "convert a domain id or uuid to its name", "domname <domain>", [DomainOpt], DomName),
        new("dumpxml", Group, "domain information in XML", "dumpxml <domain> [--inactive]",
            [DomainOpt, new("inactive", "show the inactive (persistent) definition"), new("security-info", "accepted for virsh compatibility"),
             new("update-cpu", "accepted for virsh compatibility"), new("migratable", "accepted for virsh compatibility")], DumpXml),
        new("autostart", Group, "autostart a domain", "autostart <domain> [--disable]",
            [DomainOpt, new("disable", "disable autostarting")], Autostart),
        new("console", Group, "connect to the guest's serial console (Ctrl-] detaches)", "console <domain> [--devname <alias>] [--force]",
            [DomainOpt, new("devname", "character device alias (serial0, console0)", "alias"), new("force", "accepted for virsh compatibility"),
             new("safe", "accepted for virsh compatibility")], Console),
        new("__watch", "Internal", "per-domain watcher (started by vireo itself)", "__watch <domain>", [DomainOpt], Watch),
    ];

    private static DomainManager Domains => VireoEngine.Local.Domains;

    private static string DomainArg(CommandContext c)
    {
        int pos = 0;
        string d = c.Args.Required("domain", ref pos, "<domain>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        return d;
    }

    private static string ReadXmlFile(CommandContext c)
    {
        int pos = 0;
        string file = c.Args.Required("file", ref pos, "<file>");
        c.Args.NoMorePositionals(pos, c.Spec.Name);
        try
        {
            var fi = new FileInfo(file);
            if (fi.Exists && fi.Length > SafeXml.MaxDocumentChars)
            {
                throw VireoException.Invalid($"file '{file}' is {fi.Length} bytes, more than the limit of {SafeXml.MaxDocumentChars}");
            }

            return File.ReadAllText(file);
        }
        catch (FileNotFoundException)
        {
            throw VireoException.Invalid($"failed to read file '{file}': no such file");
        }
        catch (DirectoryNotFoundException)
        {
            throw VireoException.Invalid($"failed to read file '{file}': no such file or directory");
        }
    }

    private static Task<int> Define(CommandContext c)
    {
        int pos = 0;
        string file = c.Args.Required("file", ref pos, "<file>");
        var (def, _) = Domains.Define(ReadXmlFile(c));
        c.Out.WriteLine($"Domain '{def.Name}' defined from {file}");
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    private static Task<int> Undefine(CommandContext c)
    {
        string name = Domains.Undefine(DomainArg(c));
        c.Out.WriteLine($"Domain '{name}' has been undefined");
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    private static async Task<int> Create(CommandContext c)
    {
        int pos = 0;
        string file = c.Args.Required("file", ref pos, "<file>");
        var info = await Domains.CreateAsync(ReadXmlFile(c), c.Args.Has("paused"), CancellationToken.None).ConfigureAwait(false);
        c.Out.WriteLine($"Domain '{info.Name}' created from {file}");
        c.Out.WriteLine();
        return c.Args.Has("console") ? await ConsoleSession.RunAsync(Domains, info.Name, null, c).ConfigureAwait(false) : 0;
    }

    private static async Task<int> Start(CommandContext c)
    {
        var info = await Domains.StartAsync(DomainArg(c), c.Args.Has("paused"), CancellationToken.None).ConfigureAwait(false);
        c.Out.WriteLine($"Domain '{info.Name}' started");
        c.Out.WriteLine();
        return c.Args.Has("console") ? await ConsoleSession.RunAsync(Domains, info.Name, null, c).ConfigureAwait(false) : 0;
    }

    private static async Task<int> Shutdown(CommandContext c)
    {
        CheckMode(c);
        string name = await Domains.ShutdownAsync(DomainArg(c), CancellationToken.None).ConfigureAwait(false);
        c.Out.WriteLine($"Domain '{name}' is being shutdown");
        c.Out.WriteLine();
        return 0;
    }

    private static async Task<int> Destroy(CommandContext c)
    {
        string name = await Domains.DestroyAsync(DomainArg(c), c.Args.Has("graceful"), CancellationToken.None).ConfigureAwait(false);
        c.Out.WriteLine($"Domain '{name}' destroyed");
        c.Out.WriteLine();
        return 0;
    }

    private static async Task<int> Reboot(CommandContext c)
    {
        CheckMode(c);
        string name = await Domains.RebootAsync(DomainArg(c), CancellationToken.None).ConfigureAwait(false);
        c.Out.WriteLine($"Domain '{name}' is being rebooted");
        c.Out.WriteLine();
        return 0;
    }

    private static async Task<int> Reset(CommandContext c)
    {
        string name = await Domains.ResetAsync(DomainArg(c), CancellationToken.None).ConfigureAwait(false);
        c.Out.WriteLine($"Domain '{name}' was reset");
        c.Out.WriteLine();
        return 0;
    }

    private static async Task<int> Suspend(CommandContext c)
    {
        string name = await Domains.SuspendAsync(DomainArg(c), CancellationToken.None).ConfigureAwait(false);
        c.Out.WriteLine($"Domain '{name}' suspended");
        c.Out.WriteLine();
        return 0;
    }

    private static async Task<int> Resume(CommandContext c)
    {
        string name = await Domains.ResumeAsync(DomainArg(c), CancellationToken.None).ConfigureAwait(false);
        c.Out.WriteLine($"Domain '{name}' resumed");
        c.Out.WriteLine();
        return 0;
    }

    private static void CheckMode(CommandContext c)
    {
        string? mode = c.Args.Value("mode");
        if (mode is not null && mode != "acpi")
        {
            throw VireoException.Unsupported($"--mode '{mode}' is not supported (only acpi)");
        }
    }

    private static Task<int> Autostart(CommandContext c)
    {
        string d = DomainArg(c);
        bool on = !c.Args.Has("disable");
        Domains.SetAutostart(d, on);
        string name = Domains.ResolveName(d);
        c.Out.WriteLine(on ? $"Domain '{name}' marked as autostarted" : $"Domain '{name}' unmarked as autostarted");
        c.Out.WriteLine();
        return Task.FromResult(0);
    }

    private static Task<int> Console(CommandContext c)
    {
        string d = DomainArg(c);
        return ConsoleSession.RunAsync(Domains, Domains.ResolveName(d), c.Args.Value("devname"), c);
    }

    private static Task<int> Watch(CommandContext c) => DomainWatcher.RunAsync(Domains, DomainArg(c));

    internal static string FormatId(int? id) => id?.ToString(CultureInfo.InvariantCulture) ?? "-";
}
