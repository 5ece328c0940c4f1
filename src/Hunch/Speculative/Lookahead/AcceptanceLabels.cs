using Hunch.Kernels;
using Hunch.Models;

namespace Hunch.Speculative.Lookahead;

/// <summary>
/// Per-step acceptance labels from the target's logits: whether a token is the argmax after a scored row
/// (greedy), or its probability under the tempered softmax (sampling; top-k/top-p ignored, a proxy for the share
/// sample-and-match descends into). Argmax and normaliser are computed once per row and step.
/// </summary>
internal sealed class AcceptanceLabels
{
    int[] _argmax = new int[64];
    double[] _invZ = new double[64];
    int _rows;
    bool _greedy = true;
    float _temperature = 1;

    public void Configure(Sampling.SamplingOptions sampling)
    {
        _greedy = sampling.IsGreedy;
        _temperature = sampling.Temperature;
    }

    /// <summary>Forgets the previous step's rows.</summary>
    public void StartStep(int rows)
    {
        if (_argmax.Length < rows) { _argmax = new int[rows * 2]; _invZ = new double[rows * 2]; }
        for (int i = 0; i < rows; i++) { _argmax[i] = -1; _invZ[i] = 0; }
        _rows = rows;
    }

    /// <summary>The target's argmax after row <paramref name="row"/>.</summary>
    public int ArgMax(ForwardBatch batch, int row)
    {
        if ((uint)row >= (uint)_rows) throw new ArgumentOutOfRangeException(nameof(row));
        if (_argmax[row] < 0) _argmax[row] = Ops.ArgMax(batch.Logits(row));
        return _argmax[row];
    }

    /// <summary>Label of <paramref name="token"/> drafted after row <paramref name="row"/>: 1/0 greedy, else its probability.</summary>
    public double Label(ForwardBatch batch, int row, int token)
    {
        int best = ArgMax(batch, row);
        if (_greedy) return token == best ? 1 : 0;
        var logits = batch.Logits(row);
        float max = logits[best];
        double inv = 1.0 / _temperature;
        if (_invZ[row] == 0)
        {
            double z = 0;
            for (int v = 0; v < logits.Length; v++) z += Math.Exp((logits[v] - max) * inv);
            _invZ[row] = 1.0 / z;
        }
        return Math.Exp((logits[token] - max) * inv) * _invZ[row];
    }
}
