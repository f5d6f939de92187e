"""The far tail of the studentized range, integrated in 30-digit arithmetic (mpmath), to
check :func:`mixedmodels.emm.adjust.tukey_sf` where scipy's and R's ``ptukey`` lose their
relative accuracy.

P(Q > q) = int f(s) P(R > q s) ds, with f the density of sqrt(chi2_df / df) and
P(R > w) = 1 - k int phi(z) (Phi(z + w) - Phi(z))^(k - 1) dz for the range R of k standard
normals (Hartley 1944). In 30 digits the subtraction costs nothing.
Usage (from tests/reference, with mpmath installed): python tukey_tail.py
"""

import json

import mpmath as mp

mp.mp.dps = 30
CASES = [(11.663490564485503, 6, 210), (10.938640868387534, 6, 210)]


def range_sf(w, k):
    inner = mp.quad(
        lambda z: mp.npdf(z) * (mp.ncdf(z + w) - mp.ncdf(z)) ** (k - 1),
        [-mp.inf, -8, -4, 0, 4, 8, mp.inf],
    )
    return 1 - k * inner


def tukey_sf(q, k, df):
    log_norm = mp.log(2) + (df / 2) * mp.log(mp.mpf(df) / 2) - mp.loggamma(mp.mpf(df) / 2)

    def density(s):
        return mp.e ** (log_norm + (df - 1) * mp.log(s) - df * s * s / 2)

    spread = 1 / mp.sqrt(2 * df)
    points = [1 + j * spread for j in range(-12, 13, 3) if 1 + j * spread > 0]
    return mp.quad(lambda s: density(s) * range_sf(q * s, k), points)


out = [{"q": q, "k": k, "df": df, "sf": float(tukey_sf(mp.mpf(q), k, df))} for q, k, df in CASES]
with open("tukey_tail.json", "w") as f:
    json.dump(out, f, indent=1)
