namespace Hunch.Speculative.Auto;

/// <summary>
/// A drafter that knows more about each node of its last proposal than the node's depth and sibling rank: its own
/// estimate of the probability that the node is accepted given that its parent is (e.g. lookahead's trie
/// frequency combined with its learned acceptance). <see cref="AutoDrafter"/> learns, per source, how those
/// estimates translate into real acceptance (binned, per depth and agreement), instead of ignoring them.
/// </summary>
internal interface IScoredDrafter
{
    /// <summary>The drafter's conditional acceptance estimate, in [0, 1], of node <paramref name="node"/>
    /// (1 ≤ node &lt; count) of the tree it filled in its last <see cref="IDrafter.Propose"/>.</summary>
    double Share(int node);
}
