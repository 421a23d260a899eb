using System.Diagnostics;
using Vireo.Model.Domains;
using Xunit.Abstractions;

namespace Vireo.Model.Tests.Domains;

/// <summary>dumpxml output of every accepted corpus case validates against libvirt's RelaxNG schema, and parse → write → parse loses nothing.</summary>
public sealed class SchemaAndRoundTripTests(ITestOutputHelper output)
{
    [Fact]
    public void WrittenXmlValidatesAgainstLibvirtSchemaAndRoundTrips()
    {
        string schema = Path.Combine(Corpus.Reference, "schemas", "domain.rng");
        string dir = Directory.CreateTempSubdirectory("vireo-rng-").FullName;
        var files = new List<(string Name, string Path)>();
        int lossless = 0;
        var lossy = new List<string>();
        try
        {
            foreach (string input in Corpus.Inputs())
            {
                DomainDefinition def;
                try
                {
                    def = DomainDefinition.Parse(File.ReadAllText(input));
                }
                catch (VireoException)
                {
                    continue;
                }
                string xml = def.ToXml();
                DomainDefinition again = DomainDefinition.Parse(xml);
                string xml2 = again.ToXml();
                if (xml == xml2 && again.Uuid == def.Uuid && again.MemoryKiB == def.MemoryKiB && again.Devices.Disks.Count == def.Devices.Disks.Count)
                {
                    lossless++;
                }
                else
                {
                    lossy.Add(Corpus.Name(input));
                }
                string path = Path.Combine(dir, Corpus.Name(input) + ".xml");
                File.WriteAllText(path, xml);
                files.Add((Corpus.Name(input), path));
            }
            var invalid = new List<string>();
            foreach (var (name, path) in files)
            {
                var psi = new ProcessStartInfo("xmllint") { RedirectStandardError = true, RedirectStandardOutput = true };
                foreach (string a in (string[])["--noout", "--relaxng", schema, path])
                {
                    psi.ArgumentList.Add(a);
                }
                using var p = Process.Start(psi)!;
                string err = p.StandardError.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0)
                {
                    invalid.Add($"{name}: {err.Trim()}");
                }
            }
            output.WriteLine($"schema validity: {files.Count - invalid.Count} of {files.Count} accepted cases validate against domain.rng; round trip lossless for {lossless}");
            foreach (string i in invalid)
            {
                output.WriteLine("  INVALID " + i);
            }
            foreach (string l in lossy)
            {
                output.WriteLine("  LOSSY " + l);
            }
            Assert.Empty(invalid);
            Assert.Empty(lossy);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
