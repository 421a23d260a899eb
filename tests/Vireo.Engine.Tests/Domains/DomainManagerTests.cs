using Vireo.Engine.Domains;
using Vireo.Engine.State;
using Vireo.Model;

namespace Vireo.Engine.Tests.Domains;

/// <summary>Definitions, lookups and reconciliation, without starting QEMU.</summary>
public sealed class DomainManagerTests : IDisposable
{
    private const string Xml = """
        <domain type='qemu'>
          <name>web1</name>
          <uuid>0f8e3c1a-5b6d-4e7f-8a9b-0c1d2e3f4a5b</uuid>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='pc'>hvm</type></os>
        </domain>
        """;

    private readonly string _root = Directory.CreateTempSubdirectory("vireo-dm-").FullName;
    private readonly DomainManager _m;

    public DomainManagerTests() => _m = new DomainManager(new VireoPaths(_root, Path.Combine(_root, "run")));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Define_ListsAsShutOff_AndIsFoundByNameOrUuid()
    {
        var (def, created) = _m.Define(Xml);
        Assert.True(created);
        var info = Assert.Single(_m.List());
        Assert.Equal("web1", info.Name);
        Assert.Null(info.Id);
        Assert.Equal(DomainState.Shutoff, info.Status.State);
        Assert.Equal("web1", _m.ResolveName("0f8e3c1a-5b6d-4e7f-8a9b-0c1d2e3f4a5b"));
        Assert.Equal(def.Uuid, _m.GetDefinition("web1", inactive: true).Uuid);

        // Redefining with the same name and uuid updates the definition.
        var (_, createdAgain) = _m.Define(Xml.Replace("128", "256", StringComparison.Ordinal));
        Assert.False(createdAgain);
        Assert.Equal(256 * 1024, _m.GetDefinition("web1", inactive: true).MemoryKiB);
    }

    [Fact]
    public void Define_RefusesDuplicateUuidUnderAnotherName()
    {
        _m.Define(Xml);
        var e = Assert.Throws<VireoException>(() => _m.Define(Xml.Replace("<name>web1", "<name>web2", StringComparison.Ordinal)));
        Assert.Equal(ErrorKind.AlreadyExists, e.Kind);
        Assert.Single(_m.List());
    }

    [Fact]
    public void Lookup_OfHostileNames_IsNotFound()
    {
        _m.Define(Xml);
        foreach (string bad in new[] { "../web1", "/etc/passwd", "..", "nosuch" })
        {
            var e = Assert.Throws<VireoException>(() => _m.ResolveName(bad));
            Assert.Equal(ErrorKind.NotFound, e.Kind);
        }
    }

    [Fact]
    public void Undefine_RemovesTheDefinition()
    {
        _m.Define(Xml);
        Assert.Equal("web1", _m.Undefine("web1"));
        Assert.Empty(_m.List());
        Assert.Throws<VireoException>(() => _m.Undefine("web1"));
    }

    [Fact]
    public void Reconcile_FinalizesARecordWhoseProcessIsGone_AsCrashed()
    {
        _m.Define(Xml);
        var def = _m.GetDefinition("web1", inactive: true);
        _m.Store.SaveLive(def);
        // A pid that cannot be ours: pid 1 with a start time it never had.
        _m.Store.SaveRecord(new DomainRuntimeRecord
        {
            Name = "web1", Uuid = def.Uuid, Id = 7, Pid = 1, PidStartTime = ulong.MaxValue,
            StartedAtUnixMs = 0, QmpSocket = "/nonexistent", Accelerator = "tcg",
        });
        var info = _m.GetInfo("web1");
        Assert.Null(info.Id);
        Assert.Equal(new DomainStatus(DomainState.Shutoff, "crashed"), info.Status);
        Assert.Null(_m.Store.LoadRecord("web1"));
    }

    [Fact]
    public void RuntimeRecord_RoundTripsThroughJson()
    {
        var r = new DomainRuntimeRecord
        {
            Name = "a,b", Uuid = Guid.NewGuid(), Id = 3, Pid = 42, PidStartTime = 123456789, StartedAtUnixMs = 99,
            QmpSocket = "/run/x/qmp.sock", Accelerator = "kvm", Transient = true, State = DomainState.Paused, Reason = "user",
            Destroying = true, GuestShutdown = true, FakeReboot = true, WatcherPid = 77,
            Ptys = new Dictionary<string, string> { ["serial0"] = "/dev/pts/4" }, Resources = ["tap:vnet0"],
        };
        var back = DomainRuntimeRecord.FromJson(r.ToJson(), "test");
        Assert.Equal(r.ToString(), back.ToString());
        Assert.Equal("/dev/pts/4", back.Ptys["serial0"]);
        Assert.Equal(ErrorKind.Corrupt, Assert.Throws<VireoException>(() => DomainRuntimeRecord.FromJson("{"u8, "bad.json")).Kind);
    }
}
