using System.Security;
using System.Text.Json;
using Vireo.Integration.Guest;

namespace Vireo.Integration.Networks;

/// <summary>
/// A real test guest (TCG) run by vireo inside a <see cref="NetTestHost"/>'s host namespace, with the given
/// interfaces and a serial console on a UNIX socket. Started paused so the console sees it from its first byte.
/// </summary>
internal sealed class NetGuest : IAsyncDisposable
{
    public static readonly TimeSpan Boot = TimeSpan.FromSeconds(240);
    public static readonly TimeSpan Command = TimeSpan.FromSeconds(60);

    private readonly NetTestHost _host;

    private NetGuest(NetTestHost host, string name, SerialConsole console)
    {
        _host = host;
        Name = name;
        Console = console;
    }

    public string Name { get; }

    public SerialConsole Console { get; }

    /// <summary>Defines and starts <paramref name="name"/>; returns once its console is attached and it runs.</summary>
    public static async Task<NetGuest> StartAsync(NetTestHost t, string name, string interfaces, params string[] cmdline)
    {
        var guest = await TestGuest.GetAsync();
        string sock = Path.Combine(t.Root, $"{name}.serial");
        string xml = Path.Combine(t.Root, $"{name}.xml");
        await File.WriteAllTextAsync(xml, Xml(guest, name, sock, interfaces, cmdline));
        (await t.VireoAsync("define", xml)).Ensure();
        (await t.VireoAsync("start", name, "--paused")).Ensure();
        var console = await SerialConsole.ConnectAsync(sock, TimeSpan.FromSeconds(30));
        (await t.VireoAsync("resume", name)).Ensure();
        return new NetGuest(t, name, console);
    }

    /// <summary>An <c>&lt;interface&gt;</c> element with a virtio model.</summary>
    public static string Interface(string type, string mac, string source, string extra = "") =>
        $"<interface type='{type}'><mac address='{mac}'/>{source}<model type='virtio'/>{extra}</interface>";

    /// <summary>Runs a command in the guest shell and returns its exit status.</summary>
    public async Task<int> RunAsync(string command) => (await Console.RunWithStatusAsync(command, Command)).ExitCode;

    /// <summary>The QEMU pid, from <c>dominfo --json</c>.</summary>
    public int Pid => JsonDocument.Parse(_host.Vireo("dominfo", Name, "--json").Ensure().StdOut).RootElement.GetProperty("pid").GetInt32();

    public async ValueTask DisposeAsync()
    {
        await Console.DisposeAsync();
        _host.Vireo("destroy", Name);
    }

    private static string Xml(TestGuest guest, string name, string serialSocket, string interfaces, string[] cmdline) => $"""
        <domain type='qemu'>
          <name>{E(name)}</name>
          <memory unit='MiB'>192</memory>
          <vcpu>1</vcpu>
          <os>
            <type arch='x86_64' machine='q35'>hvm</type>
            <kernel>{E(guest.KernelPath)}</kernel>
            <initrd>{E(guest.InitrdPath)}</initrd>
            <cmdline>{E(TestGuest.CommandLine([$"vireo.hostname={name}", .. cmdline]))}</cmdline>
          </os>
          <features><acpi/><apic/></features>
          <on_poweroff>destroy</on_poweroff>
          <on_crash>destroy</on_crash>
          <devices>
            {interfaces}
            <serial type='unix'><source mode='bind' path='{E(serialSocket)}'/><target port='0'/></serial>
          </devices>
        </domain>
        """;

    private static string E(string s) => SecurityElement.Escape(s);
}
