"""A convolutional tagger on log-mel spectrograms (short-chunk CNN, Won et al. 2020).

Serving (`mel`, `runtime`, `model`) needs numpy, librosa and ONNX Runtime only;
training (`network`, `train`) needs PyTorch, the optional `cnn` extra.
"""
