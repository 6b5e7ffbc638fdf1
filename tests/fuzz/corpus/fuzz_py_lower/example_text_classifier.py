"""A bag-of-embeddings text classifier: token ids (int64) -> nn.Embedding -> mean over the
sequence -> Linear (ctorchc examples/text_classifier/model.py --input tokens=i64[N,32]).
Runs under PyTorch unchanged."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class TextClassifier(nn.Module):
    def __init__(self, vocab_size=1000, embed_dim=32, num_classes=4):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.fc = nn.Linear(embed_dim, num_classes)

    def forward(self, tokens):
        emb = self.embedding(tokens)
        pooled = emb.mean(dim=1)
        return self.fc(pooled)
