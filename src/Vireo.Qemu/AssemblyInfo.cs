using System.Runtime.Versioning;

// Vireo manages Linux virtualization: this assembly calls Linux-only APIs (pidfds, posix_spawn, KVM ioctls).
[assembly: SupportedOSPlatform("linux")]
