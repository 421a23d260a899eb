using Vireo.Images;

namespace Vireo.Cli.Commands.Img;

/// <summary><c>img snapshot</c>: lists (-l), creates (-c), applies (-a) and deletes (-d) internal snapshots.</summary>
internal static class ImgSnapshotCommand
{
    public static int Run(CommandContext ctx, IReadOnlyList<string> raw)
    {
        var a = ImgArgs.Parse("snapshot", raw, "fcad", "lqU", ["object", "key-secret"], ["force-share", "image-opts"]);
        if (a.Positionals.Count != 1)
        {
            throw new ImageException("snapshot: expecting one image file name");
        }

        int actions = (a.Has("l") ? 1 : 0) + (a.Has("c") ? 1 : 0) + (a.Has("a") ? 1 : 0) + (a.Has("d") ? 1 : 0);
        if (actions != 1)
        {
            throw new ImageException("snapshot: exactly one of -l, -c, -a or -d is required");
        }

        // Snapshots change metadata only: an encrypted image's key may be given (as to qemu-img) but is not needed.
        var src = ImgSecrets.Source(a, ImgSecrets.Parse(a), a.Positionals[0], a.Format("f"));
        var action = a.Get("c") is not null ? SnapshotAction.Create : a.Get("a") is not null ? SnapshotAction.Apply : a.Get("d") is not null ? SnapshotAction.Delete : (SnapshotAction?)null;
        if (action is { } act)
        {
            string name = a.Get("c") ?? a.Get("a") ?? a.Get("d")!;
            DiskImage.Snapshot(src.Path, act, name, src.Format);
            return 0;
        }

        var info = DiskImage.Inspect(src.Path, src.Format);
        if (info.Snapshots.Count > 0)
        {
            ctx.Out.WriteLine("Snapshot list:");
            ImgInfoCommand.WriteSnapshotTable(ctx.Out, info.Snapshots);
        }

        return 0;
    }
}
