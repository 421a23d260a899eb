using Vireo.Model;
using Vireo.Model.Domains;
using Vireo.Qemu.Process;
using Vireo.Qemu.Qmp;
using Xunit.Abstractions;

namespace Vireo.Qemu.Tests.Conformance;

/// <summary>Conformance (a): the installed QEMU accepts Vireo's argv for every corpus case it can run here.</summary>
public sealed class CorpusQemuTests(ITestOutputHelper output)
{
    [Fact]
    public async Task InstalledQemuAcceptsTheArgvOfEveryRunnableCase()
    {
        int accepted = 0;
        var rejected = new List<string>();
        var needsHost = new List<string>();
        var unsupported = new List<string>();
        foreach (string name in QemuXmlCorpus.Cases())
        {
            DomainDefinition def;
            try
            {
                def = DomainDefinition.Parse(QemuXmlCorpus.Input(name));
            }
            catch (VireoException e)
            {
                unsupported.Add($"{name}: {e.Message}");
                continue;
            }
            if (RunnableDomain.NeedsHost(def) is string why)
            {
                needsHost.Add($"{name}: {why}");
                continue;
            }
            string dir = Directory.CreateTempSubdirectory("vireo-conf-").FullName;
            try
            {
                string? error = await TryStartAsync(RunnableDomain.Prepare(def, dir), dir);
                if (error is null)
                {
                    accepted++;
                }
                else
                {
                    rejected.Add($"{name}: {error}");
                }
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        output.WriteLine($"conformance (a) QEMU {QemuVersion()} accepts the argv: {accepted} cases; {needsHost.Count} need host hardware or binaries; {unsupported.Count} refused by the model; {rejected.Count} rejected by QEMU");
        foreach (string s in needsHost)
        {
            output.WriteLine("  needs host: " + s);
        }
        foreach (string s in rejected)
        {
            output.WriteLine("  REJECTED " + s);
        }
        Assert.Empty(rejected);
        Assert.True(accepted >= 40, $"only {accepted} cases started");
    }

    private static async Task<string?> TryStartAsync(DomainDefinition def, string dir)
    {
        string nvram = Path.Combine(dir, "VARS.fd");
        if (QemuFirmware.Plan(def, dir) is { VarsTemplate: string template })
        {
            File.Copy(template, nvram);
        }
        IReadOnlyList<string> argv = QemuCommandLine.Build(def, new QemuArgvOptions
        {
            RuntimeDirectory = dir,
            Accelerator = "tcg",
            NvramPath = nvram,
            AutoNumaNodeset = "0",
        });
        string log = Path.Combine(dir, "qemu.log");
        QemuProcess? process = null;
        try
        {
            (process, QmpClient qmp) = await QemuLauncher.LaunchAsync(new QemuLaunchOptions
            {
                Arguments = argv,
                LogPath = log,
                QmpSocketPath = Path.Combine(dir, "qmp.sock"),
            }, TimeSpan.FromSeconds(30));
            await using (qmp)
            {
                QmpStatus status = await qmp.QueryStatusAsync();
                if (status.Running)
                {
                    return "the guest runs although -S was given";
                }
                await qmp.QuitAsync();
            }
            bool exited = await process.WaitForExitAsync(TimeSpan.FromSeconds(20));
            process.TryReap();
            return exited ? null : "QEMU did not exit after quit";
        }
        catch (Exception e)
        {
            string tail = File.Exists(log) ? File.ReadAllText(log).Trim() : "";
            return e.Message + (tail.Length > 0 ? " | log: " + tail : "") + " | argv: " + string.Join(' ', argv);
        }
        finally
        {
            if (process is not null && !process.HasExited)
            {
                await process.KillAsync();
                process.TryReap();
            }
            process?.Dispose();
        }
    }

    private static string QemuVersion()
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("qemu-system-x86_64", "--version") { RedirectStandardOutput = true })!;
        string first = p.StandardOutput.ReadLine() ?? "";
        p.WaitForExit();
        return first.Replace("QEMU emulator version ", "", StringComparison.Ordinal);
    }
}
