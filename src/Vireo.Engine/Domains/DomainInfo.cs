using Vireo.Model.Domains;

namespace Vireo.Engine.Domains;

/// <summary>What <c>list</c>, <c>dominfo</c> and <c>domstate</c> report about one domain.</summary>
public sealed record DomainInfo(
    DomainDefinition Definition,
    int? Id,
    DomainStatus Status,
    bool Persistent,
    bool Autostart,
    double? CpuTimeSeconds,
    int? Pid)
{
    public string Name => Definition.Name;

    public Guid Uuid => Definition.Uuid;

    public bool IsActive => Id is not null;
}
