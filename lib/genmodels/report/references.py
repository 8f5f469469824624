"""The report's bibliography: every work its text cites, by key, and the References list.

The Discussion cites through `cite(key)`, so a key missing here fails at once instead of printing a citation
with no entry; the list also holds the works the rest of the report cites (the models' notes in the Designs,
the metrics in the Results' introduction).
"""

from __future__ import annotations

import re

# key -> (in-text citation, full entry)
WORKS: dict[str, tuple[str, str]] = {
    "kingma2014": ("Kingma & Welling 2014",
                   "D. P. Kingma, M. Welling. Auto-encoding variational Bayes. ICLR 2014."),
    "radford2016": ("Radford et al. 2016",
                    "A. Radford, L. Metz, S. Chintala. Unsupervised representation learning with deep convolutional "
                    "generative adversarial networks (DCGAN). ICLR 2016."),
    "mao2017": ("Mao et al. 2017",
                "X. Mao, Q. Li, H. Xie, R. Y. K. Lau, Z. Wang, S. P. Smolley. Least squares generative adversarial "
                "networks. ICCV 2017."),
    "arjovsky2017": ("Arjovsky et al. 2017",
                     "M. Arjovsky, S. Chintala, L. Bottou. Wasserstein generative adversarial networks. ICML 2017."),
    "arjovsky_bottou2017": ("Arjovsky & Bottou 2017",
                            "M. Arjovsky, L. Bottou. Towards principled methods for training generative adversarial "
                            "networks. ICLR 2017."),
    "gulrajani2017": ("Gulrajani et al. 2017",
                      "I. Gulrajani, F. Ahmed, M. Arjovsky, V. Dumoulin, A. Courville. Improved training of "
                      "Wasserstein GANs. NeurIPS 2017."),
    "sonderby2016": ("Sonderby et al. 2016",
                     "C. K. Sonderby, J. Caballero, L. Theis, W. Shi, F. Huszar. Amortised MAP inference for image "
                     "super-resolution. arXiv:1610.04490, 2016 (ICLR 2017)."),
    "larsen2016": ("Larsen et al. 2016",
                   "A. B. L. Larsen, S. K. Sonderby, H. Larochelle, O. Winther. Autoencoding beyond pixels using a "
                   "learned similarity metric. ICML 2016."),
    "bowman2016": ("Bowman et al. 2016",
                   "S. R. Bowman, L. Vilnis, O. Vinyals, A. M. Dai, R. Jozefowicz, S. Bengio. Generating sentences "
                   "from a continuous space. CoNLL 2016."),
    "higgins2017": ("Higgins et al. 2017",
                    "I. Higgins et al. beta-VAE: learning basic visual concepts with a constrained variational "
                    "framework. ICLR 2017."),
    "lucas2019": ("Lucas et al. 2019",
                  "J. Lucas, G. Tucker, R. Grosse, M. Norouzi. Don't blame the ELBO! A linear VAE perspective on "
                  "posterior collapse. NeurIPS 2019."),
    "burda2016": ("Burda et al. 2016",
                  "Y. Burda, R. Grosse, R. Salakhutdinov. Importance weighted autoencoders. ICLR 2016."),
    "ghosh2020": ("Ghosh et al. 2020",
                  "P. Ghosh, M. S. M. Sajjadi, A. Vergari, M. Black, B. Schoelkopf. From variational to deterministic "
                  "autoencoders. ICLR 2020."),
    "pope2021": ("Pope et al. 2021",
                 "P. Pope, C. Zhu, A. Abdelkader, M. Goldblum, T. Goldstein. The intrinsic dimension of images and "
                 "its impact on learning. ICLR 2021."),
    "heusel2017": ("Heusel et al. 2017",
                   "M. Heusel, H. Ramsauer, T. Unterthiner, B. Nessler, S. Hochreiter. GANs trained by a two "
                   "time-scale update rule converge to a local Nash equilibrium (FID). NeurIPS 2017."),
    "salimans2016": ("Salimans et al. 2016",
                     "T. Salimans et al. Improved techniques for training GANs (Inception Score). NeurIPS 2016."),
    "binkowski2018": ("Binkowski et al. 2018",
                      "M. Binkowski, D. J. Sutherland, M. Arbel, A. Gretton. Demystifying MMD GANs (KID). ICLR 2018."),
    "sajjadi2018": ("Sajjadi et al. 2018",
                    "M. S. M. Sajjadi, O. Bachem, M. Lucic, O. Bousquet, S. Gelly. Assessing generative models via "
                    "precision and recall. NeurIPS 2018."),
    "kynkaanniemi2019": ("Kynkaanniemi et al. 2019",
                         "T. Kynkaanniemi, T. Karras, S. Laine, J. Lehtinen, T. Aila. Improved precision and recall "
                         "metric for assessing generative models. NeurIPS 2019."),
    "lucic2018": ("Lucic et al. 2018",
                  "M. Lucic, K. Kurach, M. Michalski, S. Gelly, O. Bousquet. Are GANs created equal? A large-scale "
                  "study. NeurIPS 2018."),
    "theis2016": ("Theis et al. 2016",
                  "L. Theis, A. van den Oord, M. Bethge. A note on the evaluation of generative models. ICLR 2016."),
}


def cite(*keys: str) -> str:
    """ "(Mao et al. 2017; Arjovsky & Bottou 2017)": the in-text citation of the works, in parentheses."""
    return "(" + "; ".join(WORKS[key][0] for key in keys) + ")"


def cited_in(text: str) -> list[str]:
    """The keys of the works `text` cites, in any of the forms the report writes: "Mao et al. 2017",
    "Arjovsky et al., 2017", "Kynkaanniemi et al. (2019)"."""
    plain = " ".join(re.sub(r"[(),]", "", text).split())  # a citation may wrap across source lines
    return [key for key, (citation, _) in WORKS.items() if re.sub(r"[(),]", "", citation) in plain]


def references_markdown(text: str | None = None) -> str:
    """The References list, alphabetical by first author (the in-text citation), then year: the works `text`
    cites (the report's text), or every work when no text is given."""
    keys = cited_in(text) if text is not None else list(WORKS)
    entries = sorted((WORKS[key] for key in keys), key=lambda work: work[0].lower())
    return "\n".join(f"- {full}" for _, full in entries)
