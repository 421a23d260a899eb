using Vireo.Cli;
using Vireo.Model;

namespace Vireo.Cli.Tests;

public sealed class ArgumentTests
{
    private static readonly CommandSpec Spec = new("start", "g", "s", "start <domain>",
        [new("domain", "d", "domain"), new("paused", "p"), new("devname", "n", "alias")], _ => Task.FromResult(0));

    [Fact]
    public void Parses_VirshGrammar()
    {
        var a = ParsedArgs.Parse(Spec, ["web1", "--paused", "--devname=serial1"]);
        int pos = 0;
        Assert.Equal("web1", a.Required("domain", ref pos, "<domain>"));
        Assert.True(a.Has("paused"));
        Assert.Equal("serial1", a.Value("devname"));

        var b = ParsedArgs.Parse(Spec, ["--domain", "web2", "--devname", "x"]);
        pos = 0;
        Assert.Equal("web2", b.Required("domain", ref pos, "<domain>"));
    }

    [Theory]
    [InlineData("--bogus", "doesn't support option --bogus")]
    [InlineData("--devname", "needs a value")]
    [InlineData("--paused=yes", "takes no value")]
    public void RefusesBadFlags(string flag, string message)
    {
        var e = Assert.Throws<VireoException>(() => ParsedArgs.Parse(Spec, ["web1", flag]));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryCommandHasHelp_AndUnknownCommandsFail()
    {
        foreach (var c in CommandTable.All)
        {
            var o = new StringWriter();
            Assert.Equal(0, await Program.RunAsync(["help", c.Name], o, TextWriter.Null));
            Assert.Contains(c.Summary, o.ToString(), StringComparison.Ordinal);
        }

        var err = new StringWriter();
        Assert.Equal(1, await Program.RunAsync(["nosuchcommand"], TextWriter.Null, err));
        Assert.StartsWith("error: unknown command", err.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void CommandNames_AreUnique()
    {
        var dupes = CommandTable.All.GroupBy(c => c.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(dupes);
    }

    [Fact]
    public void Table_LaysOutLikeVirsh()
    {
        var w = new StringWriter();
        Output.Table(w, ["Id", "Name", "State"], [["1", "web1", "running"], ["-", "db", "shut off"]]);
        Assert.Equal(" Id   Name   State\n-------------------\n 1    web1   running\n -    db     shut off\n\n", w.ToString().Replace("\r", "", StringComparison.Ordinal));
    }
}
