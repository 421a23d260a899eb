using Vireo.Model;
using Vireo.Model.Domains;
using Xunit.Abstractions;

namespace Vireo.Qemu.Tests.Conformance;

/// <summary>Conformance (b): Vireo's argv compared by meaning with libvirt's expected argv for QEMU 9.1.</summary>
public sealed class CorpusArgvTests(ITestOutputHelper output)
{
    /// <summary>Options that mimic what libvirt's test harness passes: its fd numbers are placeholders anyway.</summary>
    internal static QemuArgvOptions LibvirtLikeOptions(DomainDefinition def) => new()
    {
        RuntimeDirectory = "/run/vireo/" + def.Name,
        Accelerator = def.Type == "kvm" ? "kvm" : "tcg",
        InterfaceTapFds = Enumerable.Range(0, def.Devices.Interfaces.Count).ToDictionary(i => i, i => 100 + i),
        InterfaceTapQueueFds = Enumerable.Range(0, def.Devices.Interfaces.Count).Where(i => def.Devices.Interfaces[i].Queues > 1)
            .ToDictionary(i => i, i => (IReadOnlyList<int>)Enumerable.Range(100, def.Devices.Interfaces[i].Queues!.Value).ToList()),
        // libvirt's harness opens /dev/vhost-net for every virtio TAP; the engine does the same where it exists.
        InterfaceVhostFds = Enumerable.Range(0, def.Devices.Interfaces.Count)
            .Where(i => def.Devices.Interfaces[i] is { Model: "virtio", UsesTap: true } or { Model: "virtio", Type: "direct" })
            .ToDictionary(i => i, i => (IReadOnlyList<int>)Enumerable.Range(40, def.Devices.Interfaces[i].Queues ?? 1).ToList()),
        AutoNumaNodeset = "0-3",
        VncAutoPort = 5900,
        TpmEmulatorSocket = "/dev/test",
        NvramPath = "/var/lib/libvirt/qemu/nvram/" + def.Name + "_VARS.fd",
    };

    [Fact]
    public void ArgvMatchesLibvirtForMostOfTheCorpus()
    {
        int passed = 0;
        int total = 0;
        var failures = new List<string>();
        foreach (string name in QemuXmlCorpus.Cases())
        {
            total++;
            string? args = QemuXmlCorpus.ExpectedArgs(name);
            if (args is null)
            {
                failures.Add($"{name}: no expected .args");
                continue;
            }
            DomainDefinition def;
            IReadOnlyList<string> argv;
            try
            {
                def = DomainDefinition.Parse(QemuXmlCorpus.Input(name));
                argv = QemuCommandLine.Build(def, LibvirtLikeOptions(def));
            }
            catch (VireoException e)
            {
                failures.Add($"{name}: not supported: {e.Message}");
                continue;
            }
            var expectedOptions = ArgvOptions.Parse(ArgvOptions.ParseArgsFile(args));
            var expected = ArgvComparison.Facts(expectedOptions, expectedSide: true);
            var actual = ArgvComparison.Facts(ArgvOptions.Parse(argv), expectedSide: false, expectedOptions);
            var (missing, extra) = ArgvComparison.Diff(expected, actual);
            if (missing.Count == 0 && extra.Count == 0)
            {
                passed++;
            }
            else
            {
                failures.Add($"{name}:\n" + string.Concat(missing.Select(m => "      - " + m + "\n")) + string.Concat(extra.Select(x => "      + " + x + "\n")));
            }
        }
        output.WriteLine($"conformance (b) argv vs libvirt: {passed} of {total} cases match");
        foreach (string f in failures)
        {
            output.WriteLine("  " + f);
        }
        Assert.True(passed >= 50, $"only {passed} of {total} cases match libvirt's argv");
    }
}
