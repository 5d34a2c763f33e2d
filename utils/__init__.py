"""Helper modules of Assignment 4.

Importing any of them runs this file first, so TensorFlow's start-up settings are in place before
TensorFlow is imported, whatever module comes first. Values already in the environment win.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # no C++ log lines
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # oneDNN changes the low-order bits of results
# One thread per op: a product's sums do not depend on the number of cores (independent ops still
# run in parallel), and the LSTM's small matrix products run no slower.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
