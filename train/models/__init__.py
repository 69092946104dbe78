"""The eight reference models; importing this package registers them."""
# isort: skip_file
# Import order is registration order, which every table and CLI listing follows: the reports' order.
from train.models import cora  # noqa: F401
from train.models import esc50  # noqa: F401
from train.models import mnist  # noqa: F401
from train.models import cifar100  # noqa: F401
