using Vireo.Cli.Commands.Pool;

namespace Vireo.Cli.Commands;

/// <summary>Storage pools and volumes commands, with virsh's names, flags and output.</summary>
internal static class PoolCommands
{
    public const string Group = "Storage pools and volumes";

    private static readonly OptionSpec PoolOpt = new("pool", "pool name or uuid", "pool");
    private static readonly OptionSpec VolOpt = new("vol", "volume name, key or path", "vol");
    private static readonly OptionSpec VolPoolOpt = new("pool", "pool the volume is in (when <vol> is a name)", "pool");
    private static readonly OptionSpec FileOpt = new("file", "file containing an XML description", "file");
    private static readonly OptionSpec JsonOpt = new("json", "print JSON instead of text");
    private static readonly OptionSpec BuildOpt = new("build", "build the pool before starting it");
    private static readonly OptionSpec OverwriteOpt = new("overwrite", "with --build: format the device whatever it holds");
    private static readonly OptionSpec NoOverwriteOpt = new("no-overwrite", "with --build: format only a device without a file system");
    private static readonly OptionSpec PreallocOpt = new("prealloc-metadata", "preallocate qcow2 metadata");

    private static readonly OptionSpec[] DefineAsOptions =
    [
        new("name", "name of the pool", "name"),
        new("type", "type of the pool: dir, fs, logical", "type"),
        new("source-host", "source host (network pools)", "host"),
        new("source-path", "source path (network pools)", "path"),
        new("source-dev", "source device (fs, logical)", "dev"),
        new("source-name", "source name: the volume group of a logical pool", "name"),
        new("target", "target directory", "path"),
        new("source-format", "source format: ext4, xfs, ... for fs; lvm2 for logical", "format"),
        new("print-xml", "print the XML instead of defining the pool"),
    ];

    public static IReadOnlyList<CommandSpec> All { get; } =
    [
        new("pool-define", Group, "define an inactive persistent storage pool from an XML file", "pool-define <file>", [FileOpt], PoolHandlers.Define),
        new("pool-define-as", Group, "define a pool from a set of arguments",
            "pool-define-as <name> <type> [--source-dev <dev>] [--source-name <vg>] [--target <path>] [--source-format <fmt>] [--print-xml]",
            DefineAsOptions, PoolHandlers.DefineAs),
        new("pool-create", Group, "create (start) a transient pool from an XML file", "pool-create <file> [--build] [--overwrite|--no-overwrite]",
            [FileOpt, BuildOpt, OverwriteOpt, NoOverwriteOpt], PoolHandlers.Create),
        new("pool-create-as", Group, "create (start) a transient pool from a set of arguments",
            "pool-create-as <name> <type> [--source-dev <dev>] [--source-name <vg>] [--target <path>] [--build] [--print-xml]",
            [.. DefineAsOptions, BuildOpt, OverwriteOpt, NoOverwriteOpt], PoolHandlers.CreateAs),
        new("pool-build", Group, "build a pool (make its directory, format its device, create its volume group)",
            "pool-build <pool> [--overwrite|--no-overwrite]", [PoolOpt, OverwriteOpt, NoOverwriteOpt], PoolHandlers.Build),
        new("pool-start", Group, "start a (previously defined) inactive pool", "pool-start <pool> [--build] [--overwrite|--no-overwrite]",
            [PoolOpt, BuildOpt, OverwriteOpt, NoOverwriteOpt], PoolHandlers.Start),
        new("pool-destroy", Group, "destroy (stop) a pool", "pool-destroy <pool> [--force]",
            [PoolOpt, new("force", "stop it even while running domains use its volumes")], PoolHandlers.Destroy),
        new("pool-delete", Group, "delete a pool's storage (its directory or volume group)", "pool-delete <pool>", [PoolOpt], PoolHandlers.Delete),
        new("pool-undefine", Group, "undefine an inactive pool", "pool-undefine <pool>", [PoolOpt], PoolHandlers.Undefine),
        new("pool-autostart", Group, "autostart a pool", "pool-autostart <pool> [--disable]",
            [PoolOpt, new("disable", "disable autostarting")], PoolHandlers.Autostart),
        new("pool-list", Group, "list pools", "pool-list [--all] [--inactive] [--details] [--name] [--uuid] [--json]",
            [
                new("all", "list active and inactive pools"),
                new("inactive", "list inactive pools"),
                new("details", "display extended details"),
                new("name", "list pool names only"),
                new("uuid", "list pool uuids only"),
                new("persistent", "list persistent pools"),
                new("transient", "list transient pools"),
                new("autostart", "list pools with autostart enabled"),
                new("no-autostart", "list pools with autostart disabled"),
                new("type", "only pools of these types (comma separated)", "types"),
                JsonOpt,
            ], PoolHandlers.List),
        new("pool-info", Group, "storage pool information", "pool-info <pool> [--bytes] [--json]",
            [PoolOpt, new("bytes", "figures in bytes"), JsonOpt], PoolHandlers.Info),
        new("pool-refresh", Group, "refresh a pool", "pool-refresh <pool>", [PoolOpt], PoolHandlers.Refresh),
        new("pool-dumpxml", Group, "pool information in XML", "pool-dumpxml <pool> [--inactive]",
            [PoolOpt, new("inactive", "show the inactive (persistent) definition")], PoolHandlers.DumpXml),
        new("pool-edit", Group, "edit the XML configuration of a pool in $EDITOR", "pool-edit <pool>", [PoolOpt], PoolHandlers.Edit),
        new("pool-name", Group, "convert a pool uuid to its name", "pool-name <pool>", [PoolOpt], PoolHandlers.Name),
        new("pool-uuid", Group, "convert a pool name to its uuid", "pool-uuid <pool>", [PoolOpt], PoolHandlers.Uuid),

        new("vol-create-as", Group, "create a volume from a set of arguments",
            "vol-create-as <pool> <name> <capacity> [--allocation <size>] [--format raw|qcow2] [--backing-vol <vol>] [--backing-vol-format <fmt>] [--prealloc-metadata] [--print-xml]",
            [
                PoolOpt,
                new("name", "name of the volume", "name"),
                new("capacity", "size of the volume, a scaled integer (default bytes): 10G, 512M", "size"),
                new("allocation", "initial allocation size, a scaled integer", "size"),
                new("format", "file format type: raw, qcow2", "format"),
                new("backing-vol", "the backing volume if taking a snapshot (a name in the pool, a key or a path)", "vol"),
                new("backing-vol-format", "format of the backing volume", "format"),
                PreallocOpt,
                new("print-xml", "print the XML instead of creating the volume"),
            ], VolumeHandlers.CreateAs),
        new("vol-create", Group, "create a volume from an XML file", "vol-create <pool> <file> [--prealloc-metadata]",
            [PoolOpt, FileOpt, PreallocOpt], VolumeHandlers.Create),
        new("vol-create-from", Group, "create a volume, using another volume as input", "vol-create-from <pool> <file> <vol> [--inputpool <pool>] [--prealloc-metadata]",
            [PoolOpt, FileOpt, VolOpt, new("inputpool", "pool of the input volume", "pool"), PreallocOpt], VolumeHandlers.CreateFrom),
        new("vol-clone", Group, "clone a volume (full copy)", "vol-clone <vol> <newname> [--pool <pool>] [--prealloc-metadata]",
            [VolOpt, new("newname", "name of the clone", "name"), VolPoolOpt, PreallocOpt], VolumeHandlers.Clone),
        new("vol-delete", Group, "delete a volume", "vol-delete <vol> [--pool <pool>]", [VolOpt, VolPoolOpt], VolumeHandlers.Delete),
        new("vol-wipe", Group, "wipe a volume (make it read as zeroes)", "vol-wipe <vol> [--pool <pool>] [--algorithm zero]",
            [VolOpt, VolPoolOpt, new("algorithm", "wipe algorithm: zero (the only one supported)", "algorithm")], VolumeHandlers.Wipe),
        new("vol-resize", Group, "resize a volume", "vol-resize <vol> <capacity> [--pool <pool>] [--delta] [--shrink]",
            [VolOpt, new("capacity", "new capacity, a scaled integer (or a change with --delta)", "size"), VolPoolOpt,
             new("allocate", "accepted for virsh compatibility (new space is not preallocated)"),
             new("delta", "capacity is a change to the current size"), new("shrink", "allow the volume to shrink")], VolumeHandlers.Resize),
        new("vol-info", Group, "storage volume information", "vol-info <vol> [--pool <pool>] [--bytes] [--physical] [--json]",
            [VolOpt, VolPoolOpt, new("bytes", "figures in bytes"), new("physical", "show the host size instead of the allocation"), JsonOpt], VolumeHandlers.Info),
        new("vol-list", Group, "list volumes of a pool", "vol-list <pool> [--details] [--json]",
            [PoolOpt, new("details", "display extended details"), JsonOpt], VolumeHandlers.List),
        new("vol-path", Group, "the path of a volume", "vol-path <vol> [--pool <pool>]", [VolOpt, VolPoolOpt], VolumeHandlers.PathOf),
        new("vol-name", Group, "the name of a volume given its key or path", "vol-name <vol>", [VolOpt], VolumeHandlers.NameOf),
        new("vol-key", Group, "the key of a volume", "vol-key <vol> [--pool <pool>]", [VolOpt, VolPoolOpt], VolumeHandlers.KeyOf),
        new("vol-pool", Group, "the pool a volume is in, given its key or path", "vol-pool <vol> [--uuid]",
            [VolOpt, new("uuid", "print the pool's uuid instead of its name")], VolumeHandlers.PoolOf),
        new("vol-dumpxml", Group, "volume information in XML", "vol-dumpxml <vol> [--pool <pool>]", [VolOpt, VolPoolOpt], VolumeHandlers.DumpXml),
        new("vol-upload", Group, "upload file contents to a volume", "vol-upload <vol> <file> [--pool <pool>] [--offset <bytes>] [--length <bytes>] [--sparse]",
            [VolOpt, FileOpt, VolPoolOpt, new("offset", "volume offset to upload to", "bytes"), new("length", "amount of data to upload", "bytes"),
             new("sparse", "preserve sparseness: zero ranges become holes")], VolumeTransfer.Upload),
        new("vol-download", Group, "download volume contents to a file", "vol-download <vol> <file> [--pool <pool>] [--offset <bytes>] [--length <bytes>] [--sparse]",
            [VolOpt, FileOpt, VolPoolOpt, new("offset", "volume offset to download from", "bytes"), new("length", "amount of data to download", "bytes"),
             new("sparse", "preserve sparseness: holes stay holes in the file")], VolumeTransfer.Download),
    ];
}
