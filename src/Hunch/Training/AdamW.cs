namespace Hunch.Training;

/// <summary>AdamW (decoupled weight decay) over a list of parameter tensors, with bias correction.</summary>
internal sealed class AdamW
{
    readonly float[][] _parameters;
    readonly bool[] _decay;
    /// <summary>First and second moments, one per parameter tensor.</summary>
    internal readonly float[][] M, V;
    readonly float _lr, _wd, _beta2;
    const float Beta1 = 0.9f, Eps = 1e-8f;
    internal long T;

    /// <summary>AdamW over <paramref name="parameters"/>; <paramref name="decay"/> says which take weight decay.</summary>
    public AdamW(float[][] parameters, bool[] decay, float learningRate, float weightDecay, float beta2 = 0.999f)
    {
        if (decay.Length != parameters.Length) throw new ArgumentException("one decay flag per parameter tensor");
        _parameters = parameters;
        _decay = decay;
        _lr = learningRate;
        _wd = weightDecay;
        _beta2 = beta2;
        M = parameters.Select(w => new float[w.Length]).ToArray();
        V = parameters.Select(w => new float[w.Length]).ToArray();
    }

    /// <summary>AdamW over draft heads: tensors are the K weights, then the K biases (biases without decay).</summary>
    public AdamW(DraftHeads heads, float learningRate, float weightDecay)
        : this([.. heads.Weights, .. heads.Biases], [.. Enumerable.Repeat(true, heads.HeadCount), .. Enumerable.Repeat(false, heads.HeadCount)], learningRate, weightDecay)
    {
    }

    /// <summary>One step with gradients shaped like the parameters (same order).</summary>
    public void Update(float[][] gradients)
    {
        T++;
        float c1 = 1f / (1f - MathF.Pow(Beta1, T)), c2 = 1f / (1f - MathF.Pow(_beta2, T));
        for (int k = 0; k < _parameters.Length; k++) Apply(_parameters[k], gradients[k], M[k], V[k], c1, c2, _decay[k] ? _wd : 0f);
    }

    /// <summary>One step for draft heads (weights' gradients, then biases').</summary>
    public void Update(float[][] gradWeights, float[][] gradBiases) => Update([.. gradWeights, .. gradBiases]);

    void Apply(float[] p, float[] g, float[] m, float[] v, float c1, float c2, float wd)
    {
        float b2 = _beta2;
        for (int i = 0; i < p.Length; i++)
        {
            m[i] = Beta1 * m[i] + (1 - Beta1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            p[i] -= _lr * (m[i] * c1 / (MathF.Sqrt(v[i] * c2) + Eps) + wd * p[i]);
        }
    }
}
