"""Lexical candidate sources: which vocabulary actions are related by their names.

- ``names``: parsing of action names (``a/b`` alternatives, ``a+b`` words, verb lemmas).
- ``wordnet``: WordNet 3.0 setup, sense guessing and synset-graph distances.
- ``vectors``: word vectors (word2vec/GloVe) and cosine similarities between actions.

Plain Python, no Django: settings (cache directory, vectors file) come in as arguments.
The submodules are not imported here, so using ``names`` does not load gensim or nltk.
"""
