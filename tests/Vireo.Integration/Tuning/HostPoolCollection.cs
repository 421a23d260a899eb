namespace Vireo.Integration.Tuning;

/// <summary>
/// Tests that resize the host's hugepage pool and tests that compare the CLI's page counts with sysfs must
/// not run at the same time.
/// </summary>
[CollectionDefinition(Name)]
public sealed class HostPoolCollection
{
    public const string Name = "host hugepage pool";
}
