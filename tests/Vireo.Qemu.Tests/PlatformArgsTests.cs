using Vireo.Model;
using Vireo.Model.Domains;

namespace Vireo.Qemu.Tests;

/// <summary>SMBIOS sysinfo, fw_cfg items and &lt;pm&gt; on the command line, in libvirt's spelling.</summary>
public sealed class PlatformArgsTests
{
    private const string Uuid = "c7a5fdbd-edaf-9455-926a-d65c16db1809";

    private static string Domain(string machine, string os, string extra) => $"""
        <domain type='qemu'>
          <name>vnf1</name>
          <uuid>{Uuid}</uuid>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='{machine}'>hvm</type>{os}</os>
          {extra}
          <devices><memballoon model='none'/></devices>
        </domain>
        """;

    private const string SysInfo = $"""
        <sysinfo type='smbios'>
          <bios><entry name='vendor'>Vireo</entry><entry name='version'>1.0, rev 2</entry><entry name='date'>11/26/2026</entry></bios>
          <system>
            <entry name='manufacturer'>Example Networks</entry><entry name='product'>vRouter</entry>
            <entry name='serial'>SN-1</entry><entry name='uuid'>{Uuid}</entry><entry name='family'>Edge</entry>
          </system>
          <baseBoard><entry name='manufacturer'>Example</entry><entry name='location'>Slot 3</entry></baseBoard>
          <chassis><entry name='asset'>A-42</entry></chassis>
          <oemStrings><entry>license=abc</entry><entry>role=edge</entry></oemStrings>
        </sysinfo>
        """;

    private static List<string> Values(IReadOnlyList<string> argv, string flag) =>
        argv.Select((a, i) => (a, i)).Where(x => x.a == flag && x.i + 1 < argv.Count).Select(x => argv[x.i + 1]).ToList();

    private static IReadOnlyList<string> Build(string xml) =>
        QemuCommandLine.Build(DomainDefinition.Parse(xml), new QemuArgvOptions { RuntimeDirectory = "/run/vireo/vnf1", QmpFd = 3 });

    [Fact]
    public void SysinfoModeWritesOneSmbiosOptionPerStructure_CommasDoubled()
    {
        var argv = Build(Domain("q35", "<smbios mode='sysinfo'/>", SysInfo));
        Assert.Equal(
        [
            "type=0,vendor=Vireo,version=1.0,, rev 2,date=11/26/2026",
            $"type=1,manufacturer=Example Networks,product=vRouter,serial=SN-1,uuid={Uuid},family=Edge",
            "type=2,manufacturer=Example,location=Slot 3",
            "type=3,asset=A-42",
            "type=11,value=license=abc,value=role=edge",
        ], Values(argv, "-smbios"));
    }

    [Fact]
    public void SysinfoWithoutSmbiosModeSysinfoIsKeptButNotShown()
    {
        var def = DomainDefinition.Parse(Domain("q35", "", SysInfo));
        Assert.Empty(Values(QemuCommandLine.Build(def, new QemuArgvOptions { RuntimeDirectory = "/r", QmpFd = 3 }), "-smbios"));
        Assert.Contains("<oemStrings>", def.ToXml(), StringComparison.Ordinal);
    }

    [Fact]
    public void HostModeCopiesTheHostsStrings_ButKeepsTheDomainsUuid()
    {
        string dmi = Directory.CreateTempSubdirectory("vireo-dmi-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dmi, "bios_vendor"), "SeaBIOS\n");
            File.WriteAllText(Path.Combine(dmi, "sys_vendor"), "Acme\n");
            File.WriteAllText(Path.Combine(dmi, "product_uuid"), "00000000-0000-0000-0000-000000000001\n");
            var def = DomainDefinition.Parse(Domain("pc", "<smbios mode='host'/>", ""));
            var argv = QemuCommandLine.Build(def, new QemuArgvOptions { RuntimeDirectory = "/r", QmpFd = 3, HostDmiDirectory = dmi });
            Assert.Equal(["type=0,vendor=SeaBIOS", $"type=1,manufacturer=Acme,uuid={Uuid}"], Values(argv, "-smbios"));

            var missing = Assert.Throws<VireoException>(() =>
                QemuCommandLine.Build(def, new QemuArgvOptions { RuntimeDirectory = "/r", QmpFd = 3, HostDmiDirectory = Path.Combine(dmi, "none") }));
            Assert.Contains("smbios mode='host'", missing.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dmi, recursive: true);
        }
    }

    [Theory]
    [InlineData("q35", "<pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>", "ICH9-LPC.disable_s3=1", "ICH9-LPC.disable_s4=1")]
    [InlineData("pc", "<pm><suspend-to-mem enabled='yes'/></pm>", "PIIX4_PM.disable_s3=0", null)]
    public void PowerManagementBecomesTheChipsetsSleepStateGlobals(string machine, string pm, string s3, string? s4)
    {
        var globals = Values(Build(Domain(machine, "", pm)), "-global");
        Assert.Contains(s3, globals);
        Assert.Equal(s4 is not null, globals.Any(g => g.Contains("disable_s4", StringComparison.Ordinal)));
    }

    [Fact]
    public void FwCfgItemsCarryTextOrAFile()
    {
        var argv = Build(Domain("q35", "", """
            <sysinfo type='fwcfg'>
              <entry name='opt/com.example/role'>edge, north</entry>
              <entry name='opt/com.example/config' file='/etc/vnf/config.json'/>
            </sysinfo>
            """));
        Assert.Equal(["name=opt/com.example/role,string=edge,, north", "name=opt/com.example/config,file=/etc/vnf/config.json"], Values(argv, "-fw_cfg"));
    }

    [Theory]
    [InlineData("<sysinfo type='smbios'><bios><entry name='colour'>red</entry></bios></sysinfo>", "entry name='colour'")]
    [InlineData("<sysinfo type='smbios'><system><entry name='uuid'>00000000-0000-0000-0000-000000000001</entry></system></sysinfo>", "does not match the domain's <uuid>")]
    [InlineData("<sysinfo type='smbios'><bios><entry name='date'>2026-11-26</entry></bios></sysinfo>", "mm/dd/yyyy")]
    [InlineData("<sysinfo type='fwcfg'><entry name='etc/secret'>x</entry></sysinfo>", "'opt/'")]
    [InlineData("<sysinfo type='bogus'/>", "<sysinfo type='bogus'>")]
    [InlineData("<pm><suspend-to-mem enabled='maybe'/></pm>", "enabled='maybe'")]
    public void BadPlatformXmlIsRefusedAtDefineNamingTheElement(string extra, string expected)
    {
        var e = Assert.Throws<VireoException>(() => DomainDefinition.Parse(Domain("q35", "", extra)));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
