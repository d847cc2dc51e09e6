"""Data-parallel training of Fashion-MNIST with torchrun (see `dlcourse.train_ddp` for every option).

    torchrun --standalone --nproc_per_node=2 scripts/train_ddp.py --epochs 2     # 2 processes, this machine
    python scripts/train_ddp.py --epochs 2                                         # 1 process, the same code

Multi-node (run on every node; --node-rank 0, 1, ...; the endpoint is node 0's address and a free port):

    torchrun --nnodes=2 --nproc_per_node=8 --node-rank=0 --rdzv-backend=c10d \\
             --rdzv-endpoint=10.0.0.1:29500 --rdzv-id=fmnist scripts/train_ddp.py

Rank 0 prints, writes the checkpoint (--out, default build/ddp/model.pt) and a JSON summary beside it.
"""

import sys

from dlcourse.train_ddp import main

if __name__ == "__main__":
    sys.exit(main())
