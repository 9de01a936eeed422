from . import portal
from . import cancellation
