using System.Reflection;
using Xunit;
using Xunit.Sdk;

namespace GpuNet.Tests.Backends;

/// <summary>
/// The conformance suite run against <see cref="ReferenceBackend"/>: unmutated it must pass
/// every row (so the harness, layouts and tolerances are sound), and each deliberate bug must
/// make the tests aimed at it fail (so the suite has teeth).
/// </summary>
[Collection(BackendCollection.Name)]
public sealed class SuiteSelfTests
{
    /// <summary>Every theory row of the suite written for the "cpu" device, re-aimed at <paramref name="device"/>.</summary>
    private static IEnumerable<(MethodInfo Method, object?[] Row)> Rows(string device, string? methodName = null)
    {
        foreach (var method in typeof(BackendConformanceTests).GetMethods(BindingFlags.Public | BindingFlags.Instance))
        {
            if (methodName is not null && method.Name != methodName) continue;
            var member = method.GetCustomAttribute<MemberDataAttribute>();
            if (member is null) continue;
            var source = member.MemberType ?? typeof(BackendConformanceTests);
            var value = source.GetProperty(member.MemberName, BindingFlags.Public | BindingFlags.Static)?.GetValue(null)
                ?? source.GetMethod(member.MemberName, BindingFlags.Public | BindingFlags.Static)!.Invoke(null, null);
            foreach (var item in (System.Collections.IEnumerable)value!)
            {
                var row = item is ITheoryDataRow r ? r.GetData() : (object?[])item;
                if (!Equals(row[0], BackendDevices.Cpu)) continue;
                var copy = (object?[])row.Clone();
                copy[0] = device;
                yield return (method, copy);
            }
        }
    }

    private static List<string> Run(IEnumerable<(MethodInfo Method, object?[] Row)> rows)
    {
        var failures = new List<string>();
        foreach (var (method, row) in rows)
        {
            try { method.Invoke(new BackendConformanceTests(), row); }
            catch (TargetInvocationException e)
            {
                failures.Add($"{method.Name}({string.Join(", ", row)}): {e.InnerException?.Message}");
            }
        }
        return failures;
    }

    [Fact]
    public void Suite_OnReferenceBackend_PassesEveryRow()
    {
        var rows = Rows("reference").ToList();
        Assert.True(rows.Count > 200, $"only {rows.Count} rows found");
        var failures = Run(rows);
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(5)));
    }

    [Theory]
    [InlineData(Mutation.IgnoreOutputOffset, nameof(BackendConformanceTests.Unary_OnStridedBroadcastAndEmptyViews_MatchesReference))]
    [InlineData(Mutation.IgnoreOutputOffset, nameof(BackendConformanceTests.Fill_StridedAndEmptyViews_WritesValueOnlyInsideView))]
    [InlineData(Mutation.IgnoreInputStrides, nameof(BackendConformanceTests.Binary_OnStridedBroadcastAndEmptyViews_MatchesReference))]
    [InlineData(Mutation.IgnoreInputStrides, nameof(BackendConformanceTests.MatMul_TransposedBroadcastAndNarrowedOperands_MatchReference))]
    [InlineData(Mutation.ArgLastIndex, nameof(BackendConformanceTests.Reduce_AlongMiddleAxisOfStridedViews_MatchesReference))]
    [InlineData(Mutation.Counter32Bit, nameof(BackendConformanceTests.FillRandom_StridedViews_MatchPhiloxReference))]
    [InlineData(Mutation.MaxIgnoresNaN, nameof(BackendConformanceTests.Reduce_WithNaNAndInfinities_PropagatesNaNAndArgPicksFirstNaN))]
    [InlineData(Mutation.MatMulSkipsEmptyK, nameof(BackendConformanceTests.MatMul_TransposedBroadcastAndNarrowedOperands_MatchReference))]
    [InlineData(Mutation.UnstableSoftmax, nameof(BackendConformanceTests.Softmax_ExtremeAndNegativeInfiniteLogits_StayStable))]
    public void Suite_CatchesDeliberateBug(Mutation mutation, string test)
    {
        var rows = Rows($"reference:{mutation}", test).ToList();
        Assert.NotEmpty(rows);
        var failures = Run(rows);
        Assert.True(failures.Count > 0, $"{mutation}: all {rows.Count} rows of {test} passed");
    }
}
