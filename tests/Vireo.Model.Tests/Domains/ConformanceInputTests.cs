using Vireo.Model.Domains;
using Xunit.Abstractions;

namespace Vireo.Model.Tests.Domains;

/// <summary>Every domain XML of libvirt's corpus either parses or is refused with a VireoException naming the reason.</summary>
public sealed class ConformanceInputTests(ITestOutputHelper output)
{
    [Fact]
    public void EveryCorpusInputParsesOrIsRefusedClearly()
    {
        int parsed = 0;
        var refused = new List<string>();
        var crashed = new List<string>();
        foreach (string file in Corpus.Inputs())
        {
            try
            {
                DomainDefinition.Parse(File.ReadAllText(file));
                parsed++;
            }
            catch (VireoException e) when (e.Message.Length > 10)
            {
                refused.Add($"{Corpus.Name(file)}: [{e.Kind}] {e.Message}");
            }
            catch (Exception e)
            {
                crashed.Add($"{Corpus.Name(file)}: {e.GetType().Name}: {e.Message}");
            }
        }
        output.WriteLine($"conformance input: {parsed} parsed, {refused.Count} refused, {crashed.Count} crashed");
        foreach (string r in refused)
        {
            output.WriteLine("  refused " + r);
        }
        foreach (string c in crashed)
        {
            output.WriteLine("  CRASHED " + c);
        }
        Assert.Empty(crashed);
        Assert.Equal(67, parsed + refused.Count);
        Assert.All(refused, r => Assert.Contains("Unsupported", r, StringComparison.Ordinal));
    }
}
