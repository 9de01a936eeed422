from . import portal
from . import api_v1
