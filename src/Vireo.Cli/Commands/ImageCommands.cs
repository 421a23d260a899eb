using Vireo.Cli.Commands.Img;

namespace Vireo.Cli.Commands;

/// <summary>Disk images commands: <c>vireo img</c> takes qemu-img's subcommands, flags and output formats.</summary>
internal static class ImageCommands
{
    public const string Group = "Disk images";

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
        new CommandSpec(
            "img",
            Group,
            "Create, inspect, check, convert and modify disk images (qemu-img's grammar)",
            "img <create|info|check|convert|resize|map|compare|measure|snapshot|rebase|commit|amend|dd> [qemu-img options]",
            [],
            ImgDispatcher.RunAsync)
        {
            RawArguments = true,
            Details = "Subcommands, flags and output formats follow qemu-img, so existing scripts keep working.\n" +
                      "Examples:\n  vireo img create -f qcow2 -o cluster_size=64k disk.qcow2 10G\n" +
                      "  vireo img create -f qcow2 -o help                   (the -o options a format takes; also convert, amend)\n" +
                      "  vireo img resize disk.qcow2 +10G                    (--shrink to shrink; persistent bitmaps follow)\n" +
                      "  vireo img info --output=json --backing-chain disk.qcow2\n" +
                      "  vireo img convert -p -O qcow2 -c disk.raw disk.qcow2\n" +
                      "  vireo img snapshot -c before-upgrade disk.qcow2      (-l list, -a apply, -d delete)\n" +
                      "  vireo img rebase -b base.qcow2 -F qcow2 overlay.qcow2  (-u: rewrite the header only)\n" +
                      "  vireo img commit overlay.qcow2                      (-d keeps the overlay's data)\n" +
                      "  vireo img commit -b base.qcow2 top.qcow2            (top and layers below it into base; implies -d)\n" +
                      "  vireo img amend -o compat=1.1,lazy_refcounts=on disk.qcow2  (compat=0.10 expands zero clusters)\n" +
                      "  vireo img dd -O qcow2 bs=1M count=64 skip=2 if=disk.raw of=part.qcow2\n" +
                      "Encryption (LUKS1, aes-xts-plain64; secrets as qemu-img takes them, never printed):\n" +
                      "  vireo img create -f qcow2 --object secret,id=sec0,file=pw.txt -o encrypt.format=luks,encrypt.key-secret=sec0 disk.qcow2 10G\n" +
                      "  vireo img convert --object secret,id=sec0,data=pw --key-secret sec0 -O raw disk.qcow2 disk.raw\n" +
                      "  vireo img convert -n --object secret,id=sec0,data=pw --target-image-opts disk.raw driver=qcow2,file.filename=disk.qcow2,encrypt.key-secret=sec0",
        },
    ];
}
