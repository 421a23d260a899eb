using Vireo.Qemu.Process;

namespace Vireo.Engine.Domains;

public sealed partial class DomainManager
{
    /// <summary>
    /// Starts <c>vireo __watch NAME</c> detached, holding the private QMP socket at fd 3. Without a watcher
    /// executable (engine tests) the domain still works: the next command reconciles a dead QEMU.
    /// </summary>
    private DomainRuntimeRecord SpawnWatcher(DomainRuntimeRecord record, int watcherEnd)
    {
        string? exe = Services.WatcherExecutable;
        if (exe is null)
        {
            return record;
        }

        var env = new Dictionary<string, string>();
        // VIREO_OVS_DB: the watcher removes a crashed domain's OVS ports, from the same ovsdb the start used.
        foreach (string key in (string[])["VIREO_ROOT", "VIREO_QEMU", "VIREO_EXE", "VIREO_OVS_DB"])
        {
            string? v = Environment.GetEnvironmentVariable(key);
            if (!string.IsNullOrEmpty(v))
            {
                env[key] = v;
            }
        }

        using var watcher = QemuLauncher.Start(new QemuLaunchOptions
        {
            Arguments = ["__watch", record.Name],
            EmulatorPath = exe,
            LogPath = Path.Combine(Store.RunDir(record.Name), "watcher.log"),
            PassFds = [new QemuPassedFd(watcherEnd, WatcherQmpFd)],
            Environment = env,
        });
        record = record with { WatcherPid = watcher.Pid };
        Store.SaveRecord(record);
        return record;
    }
}
