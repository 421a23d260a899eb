using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary>Routes <c>vireo img SUBCOMMAND</c>; each subcommand parses its own qemu-img flags.</summary>
internal static class ImgDispatcher
{
    public static async Task<int> RunAsync(CommandContext ctx)
    {
        var args = ctx.RawArgs;
        if (args.Count == 0 || args[0] is "--help" or "-h" or "help")
        {
            ctx.Out.WriteLine("usage: vireo " + ctx.Spec.Usage);
            return args.Count == 0 ? 1 : 0;
        }

        var rest = args.Skip(1).ToList();
        try
        {
            return args[0] switch
            {
                "create" => ImgBasicCommands.Create(ctx, rest),
                "info" => ImgInfoCommand.Run(ctx, rest),
                "check" => ImgCheckCommand.Run(ctx, rest),
                "convert" => await ImgConvertCommand.RunAsync(ctx, rest).ConfigureAwait(false),
                "resize" => ImgBasicCommands.Resize(ctx, rest),
                "map" => await ImgMapCommand.RunAsync(ctx, rest).ConfigureAwait(false),
                "compare" => await ImgCompareCommand.RunAsync(ctx, rest).ConfigureAwait(false),
                "measure" => await ImgMeasureCommand.RunAsync(ctx, rest).ConfigureAwait(false),
                "snapshot" => ImgSnapshotCommand.Run(ctx, rest),
                "rebase" => await ImgChainCommands.RebaseAsync(ctx, rest).ConfigureAwait(false),
                "commit" => await ImgChainCommands.CommitAsync(ctx, rest).ConfigureAwait(false),
                "amend" => ImgChainCommands.Amend(ctx, rest),
                "dd" => await ImgChainCommands.DdAsync(ctx, rest).ConfigureAwait(false),
                "bitmap" or "bench" =>
                    throw new ImageException($"'img {args[0]}' is not implemented yet in Vireo; use qemu-img {args[0]} meanwhile"),
                _ => throw new ImageException($"unknown img subcommand '{args[0]}' (see 'vireo help img')"),
            };
        }
        catch (Exception e) when (args[0] is "compare" && e is ImageException or IOException or UnauthorizedAccessException)
        {
            ctx.Err.WriteLine($"error: {e.Message}");
            return 2;
        }
        catch (ImageException e) when (args[0] is "check")
        {
            ctx.Err.WriteLine($"error: {e.Message}");
            return e.IsCorruption ? 2 : 1;
        }
    }

    /// <summary>Progress on stderr as qemu-img -p draws it, only when stdout is a terminal.</summary>
    public static IProgress<double>? Progress(CommandContext ctx, bool wanted)
    {
        if (!wanted || !CommandContext.StdoutIsTerminal)
        {
            return null;
        }

        int last = -1;
        return new SyncProgress(p =>
        {
            int tenth = (int)(p * 10);
            if (tenth != last)
            {
                last = tenth;
                ctx.Out.Write($"    ({p:0.00}/100%)\r");
                ctx.Out.Flush();
            }
        });
    }

    private sealed class SyncProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
